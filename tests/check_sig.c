/*
 * check_sig.c - the signing module without ../shared: Signature header
 * parsing, the time policy, key loading, a sign/verify round-trip property
 * test, and the keygen/sign/verify subcommands run as a real process.
 *
 * Every fixture is built here: ed25519 keys come from fixed seeds or are
 * generated at run time; the only files read are tests/data/sig/rsa-*.
 *
 * Environment: BECKND_BIN (the binary, set by `make check`), BECKND_SRCDIR,
 * BECKND_TEST_SEED (replay the property test with a given PRNG seed).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "testutil.h"
#include "sig/sig.h"
#include "util/b64.h"
#include "util/xmalloc.h"

#define SUB		"example-bap.com"
#define KID		"example-bap.com.k1"
#define T0		1700000000LL
#define T1		(T0 + 300)

/*
 * Seed 00 01 .. 1f and its public key as libsodium derives it (an
 * independent implementation; the value is a fact of ed25519, so a
 * mismatch means our derivation is wrong).
 */
static const char	 seed_a_b64[] =
    "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
static const char	 pub_a_b64[] =
    "A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=";

/* Built once in main() (before Check forks). */
static char		 priv_a_b64[89];	/* seed_a || pub_a */
static char		 priv_b_b64[89];	/* seed 20..3f || pub_b */
static char		 pub_b_b64[45];
static char		 attr_sig[120];		/* signature="..." */
static const char	*std_attrs[6] = {
	"keyId=\"" SUB "|" KID "|ed25519\"",
	"algorithm=\"ed25519\"",
	"created=\"1700000000\"",
	"expires=\"1700000300\"",
	"headers=\"(created) (expires) digest\"",
	attr_sig,
};
static const char *const attr_names[6] = {
	"keyId", "algorithm", "created", "expires", "headers", "signature"
};
static unsigned char	 std_sig[SIG_SIGNATURE_LEN];

/* Helpers. */

static struct sig_key *
priv_parse(const char *text)
{
	struct sig_key	*k;
	char		 err[200] = "";

	k = sig_key_private_parse(text, strlen(text), err, sizeof(err));
	ck_assert_msg(k != NULL, "private key rejected: %s", err);
	return k;
}

static struct sig_key *
pub_parse(const char *text)
{
	struct sig_key	*k;
	char		 err[200] = "";

	k = sig_key_public_parse(text, strlen(text), err, sizeof(err));
	ck_assert_msg(k != NULL, "public key rejected: %s", err);
	return k;
}

/* main() runs before any test, where Check's asserts cannot report. */
static void __attribute__((noreturn))
fixture_fail(const char *what)
{
	fprintf(stderr, "check_sig: cannot build fixtures: %s\n", what);
	exit(99);
}

static struct sig_key *
fixture_priv(const char *text)
{
	struct sig_key	*k;
	char		 err[200] = "";

	if ((k = sig_key_private_parse(text, strlen(text), err,
	    sizeof(err))) == NULL)
		fixture_fail(err);
	return k;
}

/* The 64-byte seed || public text of a seed, as keygen writes it. */
static void
priv64_of_seed(const unsigned char seed[SIG_SEED_LEN], char out[89])
{
	unsigned char	 raw[64];
	char		 sb[45];
	struct sig_key	*k;

	b64_encode(seed, SIG_SEED_LEN, sb);
	k = fixture_priv(sb);
	memcpy(raw, seed, SIG_SEED_LEN);
	memcpy(raw + SIG_SEED_LEN, sig_key_public_raw(k), SIG_PUBKEY_LEN);
	b64_encode(raw, sizeof(raw), out);
	sig_key_free(k);
}

static void
fixtures_init(void)
{
	unsigned char	 seed[SIG_SEED_LEN];
	struct sig_key	*k;
	char		*hdr;
	struct sig_header h;
	size_t		 i;

	for (i = 0; i < SIG_SEED_LEN; i++)
		seed[i] = (unsigned char)i;
	priv64_of_seed(seed, priv_a_b64);
	for (i = 0; i < SIG_SEED_LEN; i++)
		seed[i] = (unsigned char)(0x20 + i);
	priv64_of_seed(seed, priv_b_b64);
	k = fixture_priv(priv_b_b64);
	sig_key_public_b64(k, pub_b_b64);
	sig_key_free(k);

	/* A real signature of "{}" by key A for the standard header. */
	k = fixture_priv(priv_a_b64);
	hdr = sig_sign_header(k, SUB, KID, T0, T1, "{}", 2, NULL);
	if (hdr == NULL || sig_header_parse(hdr, strlen(hdr), &h) != SIG_OK)
		fixture_fail("the standard header");
	memcpy(std_sig, h.signature, sizeof(std_sig));
	/* The header ends with the signature attribute: copy it verbatim. */
	snprintf(attr_sig, sizeof(attr_sig), "%s", strstr(hdr, "signature="));
	free(hdr);
	sig_key_free(k);
}

/* Join n attribute strings (NULL entries skipped) behind a scheme. */
static char *
hdr_join(const char *scheme, const char *sep, const char *const *attrs,
    size_t n)
{
	char	*out = xstrdup(scheme), *tmp;
	size_t	 i;
	int	 first = 1;

	for (i = 0; i < n; i++) {
		if (attrs[i] == NULL)
			continue;
		xasprintf(&tmp, "%s%s%s", out, first ? "" : sep, attrs[i]);
		free(out);
		out = tmp;
		first = 0;
	}
	return out;
}

/* The standard header with attribute idx replaced by attr (NULL: omit). */
static char *
hdr_with(size_t idx, const char *attr)
{
	const char	*a[6];

	memcpy(a, std_attrs, sizeof(a));
	a[idx] = attr;
	return hdr_join("Signature ", ",", a, 6);
}

/* The standard header with extra appended at the end (after a comma). */
static char *
hdr_plus(const char *extra)
{
	char	*base = hdr_join("Signature ", ",", std_attrs, 6), *out;

	xasprintf(&out, "%s%s", base, extra);
	free(base);
	return out;
}

static enum sig_err
parse_str(const char *s, struct sig_header *h)
{
	return sig_header_parse(s, strlen(s), h);
}

static void
assert_std_fields(const struct sig_header *h, const char *what)
{
	ck_assert_msg(strcmp(h->subscriber_id, SUB) == 0, "%s: subscriber %s",
	    what, h->subscriber_id);
	ck_assert_msg(strcmp(h->key_id, KID) == 0, "%s: key id %s", what,
	    h->key_id);
	ck_assert_msg(h->created == T0, "%s: created", what);
	ck_assert_msg(h->expires == T1, "%s: expires", what);
	ck_assert_msg(memcmp(h->signature, std_sig, sizeof(std_sig)) == 0,
	    "%s: signature bytes", what);
}

/* Parse s and expect error e (and, when attr != NULL, h.attr == attr). */
static void
expect_err(const char *s, enum sig_err e, const char *attr)
{
	struct sig_header	 h;
	enum sig_err		 got;
	char			 why[256];

	got = parse_str(s, &h);
	ck_assert_msg(got == e, "[%s]: expected %d (%s), got %d (%s)", s,
	    (int)e, sig_strerror(e), (int)got, sig_strerror(got));
	if (attr != NULL) {
		ck_assert_msg(h.attr != NULL && strcmp(h.attr, attr) == 0,
		    "[%s]: attr %s, expected %s", s,
		    h.attr == NULL ? "(null)" : h.attr, attr);
		sig_describe(got, &h, why, sizeof(why));
		ck_assert_msg(strstr(why, attr) != NULL,
		    "describe \"%s\" does not name %s", why, attr);
	}
}

static void
expect_attr_err(size_t idx, const char *value, enum sig_err e)
{
	char	*attr, *s;

	xasprintf(&attr, "%s=\"%s\"", attr_names[idx], value);
	s = hdr_with(idx, attr);
	expect_err(s, e, NULL);
	free(s);
	free(attr);
}

/* Header parsing. */

START_TEST(parse_signed_header)
{
	struct sig_header	 h;
	char			*s = hdr_join("Signature ", ",", std_attrs, 6);

	ck_assert_int_eq(parse_str(s, &h), SIG_OK);
	assert_std_fields(&h, s);
	ck_assert_ptr_null(h.attr);
	free(s);
}
END_TEST

static int
next_perm(size_t *a, size_t n)
{
	size_t	 i, j, t;

	if (n < 2)
		return 0;
	for (i = n - 1; i > 0 && a[i - 1] >= a[i]; i--)
		;
	if (i == 0)
		return 0;
	for (j = n - 1; a[j] <= a[i - 1]; j--)
		;
	t = a[i - 1], a[i - 1] = a[j], a[j] = t;
	for (j = n - 1; i < j; i++, j--)
		t = a[i], a[i] = a[j], a[j] = t;
	return 1;
}

START_TEST(parse_any_order_and_spacing)
{
	static const char *const seps[] = { ",", ", ", ",\t", ", \t \t",
	    " ,", "\t, " };
	static const char *const schemes[] = { "Signature ", "signature ",
	    "SIGNATURE\t", "sIgNaTuRe \t ", "", "  Signature  ", "\t" };
	const char		*a[6];
	struct sig_header	 h;
	size_t			 perm[6] = { 0, 1, 2, 3, 4, 5 }, i, nperm = 0;
	char			*s;

	do {
		for (i = 0; i < 6; i++)
			a[i] = std_attrs[perm[i]];
		s = hdr_join(schemes[nperm % 7], seps[nperm % 6], a, 6);
		ck_assert_msg(parse_str(s, &h) == SIG_OK, "[%s]", s);
		assert_std_fields(&h, s);
		free(s);
		nperm++;
	} while (next_perm(perm, 6));
	ck_assert_int_eq(nperm, 720);

	for (i = 0; i < 7 * 6; i++) {
		s = hdr_join(schemes[i / 6], seps[i % 6], std_attrs, 6);
		ck_assert_msg(parse_str(s, &h) == SIG_OK, "[%s]", s);
		assert_std_fields(&h, s);
		free(s);
	}
}
END_TEST

START_TEST(parse_scheme)
{
	static const char *const bad[] = { "Bearer ", "Basic ", "Signatures ",
	    "Sig ", "HMAC ", "Signature2 " };
	char	*s, *attrs = hdr_join("", ",", std_attrs, 6);
	size_t	 i;

	expect_err("Bearer x", SIG_E_SCHEME, NULL);
	expect_err("Basic dXNlcjpwYXNz", SIG_E_SCHEME, NULL);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		xasprintf(&s, "%s%s", bad[i], attrs);
		expect_err(s, SIG_E_SCHEME, NULL);
		free(s);
	}
	free(attrs);
}
END_TEST

START_TEST(parse_oversize)
{
	struct sig_header	 h;
	char			*base = hdr_join("Signature ", ",", std_attrs, 6);
	char			*buf;
	size_t			 blen = strlen(base), pad;

	/* Exactly SIG_HEADER_MAX bytes: an unknown attribute fills it up. */
	ck_assert_uint_lt(blen + 10, SIG_HEADER_MAX);
	buf = xmalloc(SIG_HEADER_MAX + 2);
	memcpy(buf, base, blen);
	memcpy(buf + blen, ",pad=\"", 6);
	pad = SIG_HEADER_MAX - blen - 7;
	memset(buf + blen + 6, 'x', pad);
	buf[SIG_HEADER_MAX - 1] = '"';
	buf[SIG_HEADER_MAX] = '\0';
	ck_assert_uint_eq(strlen(buf), SIG_HEADER_MAX);
	ck_assert_int_eq(sig_header_parse(buf, SIG_HEADER_MAX, &h), SIG_OK);
	assert_std_fields(&h, "4096 bytes");

	/* One more byte. */
	memmove(buf + SIG_HEADER_MAX - 1, "x\"", 2);
	buf[SIG_HEADER_MAX + 1] = '\0';
	ck_assert_int_eq(sig_header_parse(buf, SIG_HEADER_MAX + 1, &h),
	    SIG_E_OVERSIZE);
	free(buf);
	free(base);
}
END_TEST

START_TEST(parse_syntax)
{
	char	*s;

	/* Unquoted value, missing '=', other separators. */
	s = hdr_with(2, "created=1700000000");
	expect_err(s, SIG_E_SYNTAX, NULL);
	free(s);
	s = hdr_with(2, "created\"1700000000\"");
	expect_err(s, SIG_E_SYNTAX, NULL);
	free(s);
	s = hdr_with(2, "created:\"1700000000\"");
	expect_err(s, SIG_E_SYNTAX, NULL);
	free(s);
	s = hdr_with(2, "created ='1700000000'");
	expect_err(s, SIG_E_SYNTAX, NULL);
	free(s);
	s = hdr_with(2, "=\"1700000000\"");
	expect_err(s, SIG_E_SYNTAX, NULL);
	free(s);
	/* Trailing garbage. */
	s = hdr_plus(" x");
	expect_err(s, SIG_E_SYNTAX, NULL);
	free(s);
	s = hdr_plus("x");
	expect_err(s, SIG_E_SYNTAX, NULL);
	free(s);
	s = hdr_plus(",");
	expect_err(s, SIG_E_SYNTAX, NULL);
	free(s);
	s = hdr_plus(",,");
	expect_err(s, SIG_E_SYNTAX, NULL);
	free(s);
	s = hdr_plus(";");
	expect_err(s, SIG_E_SYNTAX, NULL);
	free(s);
	/* Unterminated quote. */
	s = hdr_plus(",foo=\"bar");
	expect_err(s, SIG_E_SYNTAX, NULL);
	free(s);
	s = hdr_with(5, "signature=\"AAAA");
	expect_err(s, SIG_E_SYNTAX, NULL);
	free(s);
	/* No comma between attributes. */
	expect_err("Signature keyId=\"a|b|ed25519\" created=\"1\"",
	    SIG_E_SYNTAX, NULL);
	/* Nothing at all. */
	expect_err("", SIG_E_SYNTAX, NULL);
	expect_err("Signature ", SIG_E_SYNTAX, NULL);
	expect_err("Signature", SIG_E_SYNTAX, NULL);
	expect_err("Signature keyId", SIG_E_SYNTAX, NULL);
	expect_err("Signature keyId=", SIG_E_SYNTAX, NULL);
}
END_TEST

START_TEST(parse_duplicate)
{
	char	*s, *extra, why[256];
	struct sig_header h;
	size_t	 i;

	for (i = 0; i < 6; i++) {
		/* The same attribute again, same value. */
		xasprintf(&extra, ",%s", std_attrs[i]);
		s = hdr_plus(extra);
		expect_err(s, SIG_E_DUPLICATE, attr_names[i]);
		free(s);
		free(extra);
		/* Again with another value, and with white space. */
		xasprintf(&extra, ", \t%s=\"x\"", attr_names[i]);
		s = hdr_plus(extra);
		expect_err(s, SIG_E_DUPLICATE, attr_names[i]);
		free(s);
		free(extra);
	}
	s = hdr_plus(",created=\"1700000001\"");
	ck_assert_int_eq(parse_str(s, &h), SIG_E_DUPLICATE);
	ck_assert_str_eq(sig_describe(SIG_E_DUPLICATE, &h, why, sizeof(why)),
	    "malformed header: duplicate attribute \"created\"");
	free(s);
}
END_TEST

START_TEST(parse_missing)
{
	static const size_t	 required[] = { 0, 2, 3, 5 };
	struct sig_header	 h;
	const char		*a[6];
	char			*s, why[256];
	size_t			 i;

	for (i = 0; i < 4; i++) {
		s = hdr_with(required[i], NULL);
		expect_err(s, SIG_E_MISSING, attr_names[required[i]]);
		free(s);
	}
	s = hdr_with(5, NULL);
	ck_assert_int_eq(parse_str(s, &h), SIG_E_MISSING);
	ck_assert_str_eq(sig_describe(SIG_E_MISSING, &h, why, sizeof(why)),
	    "malformed header: missing attribute \"signature\"");
	free(s);

	/* algorithm and headers are optional. */
	s = hdr_with(1, NULL);
	ck_assert_int_eq(parse_str(s, &h), SIG_OK);
	assert_std_fields(&h, s);
	free(s);
	s = hdr_with(4, NULL);
	ck_assert_int_eq(parse_str(s, &h), SIG_OK);
	free(s);
	memcpy(a, std_attrs, sizeof(a));
	a[1] = a[4] = NULL;
	s = hdr_join("", ", ", a, 6);
	ck_assert_int_eq(parse_str(s, &h), SIG_OK);
	assert_std_fields(&h, s);
	free(s);
}
END_TEST

START_TEST(parse_keyid)
{
	static const char *const bad[] = {
		"a|ed25519",		/* 2 parts */
		"a|b|c|ed25519",	/* 4 parts */
		"a|b|ed25519|",		/* 4 parts, empty last */
		"|k|ed25519",		/* empty subscriber */
		"a||ed25519",		/* empty key id */
		"a|k|",			/* empty algorithm */
		"a|k|rsa",		/* third part not ed25519 */
		"a|k|ED25519",
		"a|k|ed25519 ",
		"a|k|ed2551",
		"a|k|ed255199",
		"a",
		"",
		"||",
	};
	struct sig_header	 h;
	char			*attr, *s, sub[SIG_ID_MAX + 1], why[256];
	size_t			 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_attr_err(0, bad[i], SIG_E_KEYID);

	s = hdr_with(0, "keyId=\"a|b|ed25519\"");
	ck_assert_int_eq(parse_str(s, &h), SIG_OK);
	ck_assert_str_eq(h.subscriber_id, "a");
	ck_assert_str_eq(h.key_id, "b");
	free(s);

	/* SIG_ID_MAX includes the NUL: 255 bytes fit, 256 do not. */
	memset(sub, 's', sizeof(sub));
	sub[SIG_ID_MAX - 1] = '\0';
	xasprintf(&attr, "keyId=\"%s|k|ed25519\"", sub);
	s = hdr_with(0, attr);
	ck_assert_int_eq(parse_str(s, &h), SIG_OK);
	ck_assert_uint_eq(strlen(h.subscriber_id), SIG_ID_MAX - 1);
	free(s);
	free(attr);
	xasprintf(&attr, "keyId=\"k|%s|ed25519\"", sub);
	s = hdr_with(0, attr);
	ck_assert_int_eq(parse_str(s, &h), SIG_OK);
	ck_assert_uint_eq(strlen(h.key_id), SIG_ID_MAX - 1);
	free(s);
	free(attr);
	sub[SIG_ID_MAX - 1] = 's';
	sub[SIG_ID_MAX] = '\0';
	xasprintf(&attr, "%s|k|ed25519", sub);
	expect_attr_err(0, attr, SIG_E_KEYID);
	free(attr);
	xasprintf(&attr, "k|%s|ed25519", sub);
	expect_attr_err(0, attr, SIG_E_KEYID);
	free(attr);

	ck_assert_ptr_nonnull(strstr(sig_describe(SIG_E_KEYID, &h, why,
	    sizeof(why)), "keyId"));
}
END_TEST

/*
 * A keyId part that is empty as a C string (bytes before it are NUL) must
 * not pass the "non-empty subscriber/key id" rule: callers use the ids as
 * strings.  (Found by tests/fuzz/fuzz_sig_header.)
 */
START_TEST(parse_keyid_embedded_nul)
{
#define ID(s)	{ s, sizeof(s) - 1 }
	static const struct {
		const char	*v;
		size_t		 len;
	} ids[] = { ID("\0evil.example|k1|ed25519"),
	    ID("bpp.example.org|\0\0k-2|ed25519"), ID("a\0b|k|ed25519") };
#undef ID
	struct sig_header	 h;
	char			*s, *head, fail[300] = "";
	size_t			 i, hl, il;
	enum sig_err		 e;

	head = hdr_with(0, NULL);	/* all but keyId */
	hl = strlen(head);
	for (i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		il = ids[i].len;
		s = xmalloc(hl + il + 16);
		memcpy(s, head, hl);
		memcpy(s + hl, ",keyId=\"", 8);
		memcpy(s + hl + 8, ids[i].v, il);
		memcpy(s + hl + 8 + il, "\"", 1);
		e = sig_header_parse(s, hl + il + 9, &h);
		free(s);
		if (e == SIG_OK && fail[0] == '\0')
			snprintf(fail, sizeof(fail), "keyId %zu with a NUL byte "
			    "accepted: subscriber_id \"%.40s\" (strlen %zu), "
			    "key_id \"%.40s\"", i, h.subscriber_id,
			    strlen(h.subscriber_id), h.key_id);
	}
	free(head);
	ck_assert_msg(fail[0] == '\0', "%s", fail);
}
END_TEST

START_TEST(parse_algorithm)
{
	static const char *const bad[] = { "rsa-sha256", "ED25519", "",
	    "ed25519 ", " ed25519", "hs2019", "ed448", "ed25519ph" };
	struct sig_header	 h;
	char			 why[256];
	size_t			 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_attr_err(1, bad[i], SIG_E_ALGORITHM);
	memset(&h, 0, sizeof(h));
	ck_assert_ptr_nonnull(strstr(sig_describe(SIG_E_ALGORITHM, &h, why,
	    sizeof(why)), "algorithm"));
}
END_TEST

START_TEST(parse_created_expires)
{
	static const char *const bad[] = { "12a", "", "-1", "1.5", " 1",
	    "1 ", "+1", "0x10", "1e9", "١٢", "1234567890123456",
	    "99999999999999999999999" };
	struct sig_header	 h;
	char			*s, why[256];
	size_t			 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		expect_attr_err(2, bad[i], SIG_E_CREATED);
		expect_attr_err(3, bad[i], SIG_E_EXPIRES);
	}
	/* 15 digits is the documented limit; leading zeros are digits. */
	s = hdr_with(3, "expires=\"999999999999999\"");
	ck_assert_int_eq(parse_str(s, &h), SIG_OK);
	ck_assert(h.expires == 999999999999999LL);
	free(s);
	s = hdr_with(2, "created=\"0\"");
	ck_assert_int_eq(parse_str(s, &h), SIG_OK);
	ck_assert(h.created == 0);
	free(s);
	s = hdr_with(2, "created=\"0001700000000\"");
	ck_assert_int_eq(parse_str(s, &h), SIG_OK);
	ck_assert(h.created == T0);
	free(s);
	ck_assert_ptr_nonnull(strstr(sig_describe(SIG_E_CREATED, &h, why,
	    sizeof(why)), "created"));
	ck_assert_ptr_nonnull(strstr(sig_describe(SIG_E_EXPIRES, &h, why,
	    sizeof(why)), "expires"));
}
END_TEST

START_TEST(parse_headers_attr)
{
	static const char *const bad[] = { "(created) (expires)",
	    "(created)  (expires) digest", "digest (created) (expires)",
	    "", "(request-target) (created) (expires) digest",
	    "(created) (expires) digest ", "(Created) (Expires) Digest" };
	struct sig_header	 h;
	char			 why[256];
	size_t			 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_attr_err(4, bad[i], SIG_E_HEADERS);
	memset(&h, 0, sizeof(h));
	ck_assert_ptr_nonnull(strstr(sig_describe(SIG_E_HEADERS, &h, why,
	    sizeof(why)), "headers"));
}
END_TEST

START_TEST(parse_signature_attr)
{
	unsigned char		 raw[66];
	char			 b[100], *attr, *s, why[256];
	struct sig_header	 h;
	size_t			 i;

	for (i = 0; i < sizeof(raw); i++)	/* encodes to "+/+/..." */
		raw[i] = (unsigned char)(i % 3 == 0 ? 0xfb : i % 3 == 1 ?
		    0xff : 0xbf);

	expect_attr_err(5, "not base64!", SIG_E_SIGNATURE_B64);
	expect_attr_err(5, "", SIG_E_SIGNATURE_B64);
	b64_encode(raw, 63, b);
	expect_attr_err(5, b, SIG_E_SIGNATURE_B64);
	b64_encode(raw, 65, b);
	expect_attr_err(5, b, SIG_E_SIGNATURE_B64);
	b64_encode(raw, 66, b);
	expect_attr_err(5, b, SIG_E_SIGNATURE_B64);

	b64_encode(raw, 64, b);
	ck_assert_uint_eq(strlen(b), 88);
	xasprintf(&attr, "signature=\"%s\"", b);
	s = hdr_with(5, attr);
	ck_assert_int_eq(parse_str(s, &h), SIG_OK);
	ck_assert_mem_eq(h.signature, raw, 64);
	free(s);
	free(attr);
	/* Unpadded is accepted. */
	b[86] = '\0';
	xasprintf(&attr, "signature=\"%s\"", b);
	s = hdr_with(5, attr);
	ck_assert_int_eq(parse_str(s, &h), SIG_OK);
	ck_assert_mem_eq(h.signature, raw, 64);
	free(s);
	free(attr);
	/* Padding in the wrong amount, URL-safe alphabet, white space. */
	strcat(b, "=");
	expect_attr_err(5, b, SIG_E_SIGNATURE_B64);
	strcat(b, "==");
	expect_attr_err(5, b, SIG_E_SIGNATURE_B64);
	b64_encode(raw, 64, b);
	for (i = 0; b[i] != '\0'; i++)
		b[i] = b[i] == '+' ? '-' : b[i] == '/' ? '_' : b[i];
	ck_assert_ptr_nonnull(strchr(b, '-'));
	expect_attr_err(5, b, SIG_E_SIGNATURE_B64);
	b64_encode(raw, 64, b);
	b[10] = ' ';
	expect_attr_err(5, b, SIG_E_SIGNATURE_B64);
	b64_encode(raw, 64, b);
	b[0] = '*';
	expect_attr_err(5, b, SIG_E_SIGNATURE_B64);
	memset(&h, 0, sizeof(h));
	ck_assert_ptr_nonnull(strstr(sig_describe(SIG_E_SIGNATURE_B64, &h, why,
	    sizeof(why)), "signature"));
}
END_TEST

START_TEST(parse_unknown_attributes_ignored)
{
	static const char *const extra[] = { "foo=\"bar\"", "nonce=\"1,2,3\"",
	    "x=\"\"", "Foo=\"a=b\"" };
	const char		*a[8];
	struct sig_header	 h;
	char			*s;
	size_t			 i, pos;

	for (i = 0; i < 4; i++) {
		for (pos = 0; pos <= 6; pos++) {
			memcpy(a, std_attrs, pos * sizeof(a[0]));
			a[pos] = extra[i];
			memcpy(a + pos + 1, std_attrs + pos,
			    (6 - pos) * sizeof(a[0]));
			a[7] = extra[(i + 1) % 4];
			s = hdr_join("Signature ", ", ", a, 8);
			ck_assert_msg(parse_str(s, &h) == SIG_OK, "[%s]", s);
			assert_std_fields(&h, s);
			free(s);
		}
	}
	/* An unknown attribute twice is still ignored. */
	s = hdr_plus(",foo=\"1\",foo=\"2\"");
	ck_assert_int_eq(parse_str(s, &h), SIG_OK);
	free(s);
}
END_TEST

START_TEST(reasons_distinct)
{
	const char	*r[SIG_E_KEY + 1];
	char		 buf[256], small[12];
	struct sig_header h;
	int		 i, j;

	for (i = 0; i <= SIG_E_KEY; i++) {
		r[i] = sig_strerror((enum sig_err)i);
		ck_assert_ptr_nonnull(r[i]);
		ck_assert_uint_gt(strlen(r[i]), 1);
		ck_assert_str_ne(r[i], "unknown signature error");
		for (j = 0; j < i; j++)
			ck_assert_msg(strcmp(r[i], r[j]) != 0,
			    "codes %d and %d share the reason \"%s\"", i, j,
			    r[i]);
	}
	ck_assert_str_eq(sig_strerror(SIG_OK), "ok");
	ck_assert_str_eq(sig_strerror(SIG_E_EXPIRED), "expired");
	ck_assert_str_eq(sig_strerror((enum sig_err)(SIG_E_KEY + 1)),
	    "unknown signature error");
	ck_assert(strncmp(sig_strerror(SIG_E_NOT_YET_VALID), "not yet valid",
	    13) == 0);
	ck_assert(strncmp(sig_strerror(SIG_E_BAD_SIGNATURE), "bad signature",
	    13) == 0);
	ck_assert(strncmp(sig_strerror(SIG_E_DIGEST), "bad digest", 10) == 0);

	/* describe() without a header, and truncation. */
	ck_assert_str_eq(sig_describe(SIG_E_EXPIRED, NULL, buf, sizeof(buf)),
	    "expired");
	memset(&h, 0, sizeof(h));
	h.attr = "created";
	sig_describe(SIG_E_DUPLICATE, &h, small, sizeof(small));
	ck_assert_uint_eq(strlen(small), sizeof(small) - 1);
	/* attr only decorates attribute-list errors. */
	ck_assert_str_eq(sig_describe(SIG_E_EXPIRED, &h, buf, sizeof(buf)),
	    "expired");
}
END_TEST

/* Time policy. */

START_TEST(time_policy)
{
	struct sig_header	 h;

	ck_assert_int_eq(SIG_DEFAULT_SKEW_S, 5);
	ck_assert_int_eq(SIG_DEFAULT_TTL_S, 300);
	memset(&h, 0, sizeof(h));
	h.created = 1000;
	h.expires = 1300;
	/* created vs now + skew. */
	ck_assert_int_eq(sig_check_time(&h, 995, 5), SIG_OK);
	ck_assert_int_eq(sig_check_time(&h, 994, 5), SIG_E_NOT_YET_VALID);
	ck_assert_int_eq(sig_check_time(&h, 1000, 0), SIG_OK);
	ck_assert_int_eq(sig_check_time(&h, 999, 0), SIG_E_NOT_YET_VALID);
	ck_assert_int_eq(sig_check_time(&h, 0, 5), SIG_E_NOT_YET_VALID);
	/* expires vs now - skew. */
	ck_assert_int_eq(sig_check_time(&h, 1305, 5), SIG_OK);
	ck_assert_int_eq(sig_check_time(&h, 1306, 5), SIG_E_EXPIRED);
	ck_assert_int_eq(sig_check_time(&h, 1300, 0), SIG_OK);
	ck_assert_int_eq(sig_check_time(&h, 1301, 0), SIG_E_EXPIRED);
	ck_assert_int_eq(sig_check_time(&h, 1150, SIG_DEFAULT_SKEW_S),
	    SIG_OK);
	/* A big skew widens both ends. */
	ck_assert_int_eq(sig_check_time(&h, 700, 300), SIG_OK);
	ck_assert_int_eq(sig_check_time(&h, 1600, 300), SIG_OK);
	ck_assert_int_eq(sig_check_time(&h, 1601, 300), SIG_E_EXPIRED);
	/* The window itself, whatever now is. */
	h.expires = h.created;
	ck_assert_int_eq(sig_check_time(&h, 1000, 5), SIG_E_WINDOW);
	h.expires = h.created - 1;
	ck_assert_int_eq(sig_check_time(&h, 1000, 5), SIG_E_WINDOW);
	ck_assert_int_eq(sig_check_time(&h, 0, 5), SIG_E_WINDOW);
	ck_assert_int_eq(sig_check_time(&h, 5000, 5), SIG_E_WINDOW);
	h.expires = h.created + 1;
	ck_assert_int_eq(sig_check_time(&h, 1000, 0), SIG_OK);
}
END_TEST

/*
 * The policy is arithmetic on int64 "now" and "skew" that callers (the CLI
 * --now/--skew options) take from users; extreme values must not wrap.
 */
START_TEST(time_policy_extreme_values)
{
	struct sig_header	 h;

	memset(&h, 0, sizeof(h));
	h.created = T0;
	h.expires = T1;
	/* Far future: the signature has expired (not "not yet valid"). */
	ck_assert_int_eq(sig_check_time(&h, INT64_MAX, SIG_DEFAULT_SKEW_S),
	    SIG_E_EXPIRED);
	/* A skew that covers everything accepts it. */
	ck_assert_int_eq(sig_check_time(&h, T0, INT64_MAX), SIG_OK);
}
END_TEST

/* Digest, signing string, sign and verify. */

static void
hex_to_b64(const char *hex, char *out)
{
	unsigned char	 raw[64];
	size_t		 i;
	unsigned int	 v;

	for (i = 0; i < 64; i++) {
		ck_assert(sscanf(hex + 2 * i, "%2x", &v) == 1);
		raw[i] = (unsigned char)v;
	}
	b64_encode(raw, 64, out);
}

START_TEST(digest_known_values)
{
	char	 d[SIG_DIGEST_B64_LEN], want[100];

	/* BLAKE2b-512 of "" and of "abc" (RFC 7693 appendix A). */
	ck_assert_int_eq(sig_digest("", 0, d), 0);
	hex_to_b64("786a02f742015903c6c6fd852552d272912f4740e15847618a86e217"
	    "f71f5419d25e1031afee585313896444934eb04b903a685b1448b755d56f70"
	    "1afe9be2ce", want);
	ck_assert_str_eq(d, want);
	ck_assert_int_eq(sig_digest("abc", 3, d), 0);
	hex_to_b64("ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6f"
	    "dbffa2d17d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386"
	    "edd4009923", want);
	ck_assert_str_eq(d, want);
	ck_assert_uint_eq(strlen(d), 88);
	/* Bytes after a NUL count. */
	ck_assert_int_eq(sig_digest("abc\0", 4, want), 0);
	ck_assert_str_ne(d, want);
}
END_TEST

START_TEST(signing_string_format)
{
	char	 d[SIG_DIGEST_B64_LEN], buf[256], want[256], tiny[20];
	int	 n;

	ck_assert_int_eq(sig_digest("{}", 2, d), 0);
	n = sig_signing_string(T0, T1, d, buf, sizeof(buf));
	snprintf(want, sizeof(want), "(created): 1700000000\n"
	    "(expires): 1700000300\ndigest: BLAKE-512=%s", d);
	ck_assert_str_eq(buf, want);
	ck_assert_int_eq(n, (int)strlen(want));
	ck_assert_int_ne(buf[n - 1], '\n');
	ck_assert_int_eq(sig_signing_string(T0, T1, d, tiny, sizeof(tiny)),
	    -1);
	/* Exactly fitting (n + NUL) works, one byte less does not. */
	ck_assert_int_eq(sig_signing_string(T0, T1, d, buf, (size_t)n + 1), n);
	ck_assert_int_eq(sig_signing_string(T0, T1, d, buf, (size_t)n), -1);
}
END_TEST

START_TEST(sign_verify_basic)
{
	struct sig_key		*k, *pk, *pkb;
	struct sig_header	 h;
	char			*hdr, *hdr2, d[SIG_DIGEST_B64_LEN], want[600];
	char			 sigb[89], ss[256];
	static const char	 body[] = "{\"context\":{\"action\":\"search\"}}";
	unsigned char		 raw[64];
	int			 n;

	k = priv_parse(priv_a_b64);
	pk = pub_parse(pub_a_b64);
	pkb = pub_parse(pub_b_b64);
	ck_assert_int_eq(sig_key_is_private(k), 1);
	ck_assert_int_eq(sig_key_is_private(pk), 0);

	hdr = sig_sign_header(k, SUB, KID, T0, T1, body, strlen(body), NULL);
	ck_assert_ptr_nonnull(hdr);
	/* The exact header layout. */
	ck_assert_int_eq(sig_digest(body, strlen(body), d), 0);
	n = sig_signing_string(T0, T1, d, ss, sizeof(ss));
	ck_assert_int_eq(sig_ed25519_sign(k, ss, (size_t)n, raw), 0);
	b64_encode(raw, 64, sigb);
	snprintf(want, sizeof(want), "Signature keyId=\"" SUB "|" KID
	    "|ed25519\",algorithm=\"ed25519\",created=\"1700000000\","
	    "expires=\"1700000300\",headers=\"(created) (expires) digest\","
	    "signature=\"%s\"", sigb);
	ck_assert_str_eq(hdr, want);
	/* A precomputed digest gives the same header. */
	hdr2 = sig_sign_header(k, SUB, KID, T0, T1, body, strlen(body), d);
	ck_assert_str_eq(hdr2, hdr);
	free(hdr2);

	ck_assert_int_eq(parse_str(hdr, &h), SIG_OK);
	ck_assert_int_eq(sig_verify_digest(&h, pk, d), SIG_OK);
	/* A private key verifies too. */
	ck_assert_int_eq(sig_verify_digest(&h, k, d), SIG_OK);
	ck_assert_int_eq(sig_ed25519_verify(pk, ss, (size_t)n, raw), 0);
	/* Wrong key, other body, other times. */
	ck_assert_int_eq(sig_verify_digest(&h, pkb, d), SIG_E_BAD_SIGNATURE);
	ck_assert_int_eq(sig_digest(body, strlen(body) - 1, d), 0);
	ck_assert_int_eq(sig_verify_digest(&h, pk, d), SIG_E_BAD_SIGNATURE);
	ck_assert_int_eq(sig_digest(body, strlen(body), d), 0);
	h.expires++;
	ck_assert_int_eq(sig_verify_digest(&h, pk, d), SIG_E_BAD_SIGNATURE);
	h.expires--;
	h.created--;
	ck_assert_int_eq(sig_verify_digest(&h, pk, d), SIG_E_BAD_SIGNATURE);
	h.created++;
	ck_assert_int_eq(sig_verify_digest(&h, pk, d), SIG_OK);
	ck_assert_int_eq(sig_ed25519_verify(pk, ss, (size_t)n - 1, raw), -1);
	/* A digest string too long for a signing string is an error. */
	memset(want, 'A', 300);
	want[300] = '\0';
	ck_assert_int_ne(sig_verify_digest(&h, pk, want), SIG_OK);
	/* A public key cannot sign. */
	ck_assert_ptr_null(sig_sign_header(pk, SUB, KID, T0, T1, body,
	    strlen(body), NULL));
	ck_assert_int_eq(sig_ed25519_sign(pk, "x", 1, raw), -1);
	free(hdr);
	sig_key_free(k);
	sig_key_free(pk);
	sig_key_free(pkb);
	sig_key_free(NULL);
}
END_TEST

/* Keys. */

static void
sign_fixed(const struct sig_key *k, unsigned char sig[64])
{
	ck_assert_int_eq(sig_ed25519_sign(k, "fixed message", 13, sig), 0);
}

START_TEST(key_seed_and_64_byte_forms)
{
	struct sig_key	*ks, *k64, *kp;
	char		 pub[45], priv[89];
	unsigned char	 s1[64], s2[64];

	ks = priv_parse(seed_a_b64);
	k64 = priv_parse(priv_a_b64);
	sig_key_public_b64(ks, pub);
	ck_assert_str_eq(pub, pub_a_b64);
	sig_key_public_b64(k64, pub);
	ck_assert_str_eq(pub, pub_a_b64);
	ck_assert_mem_eq(sig_key_public_raw(ks), sig_key_public_raw(k64), 32);
	/* Export is the libsodium layout, from either input form. */
	ck_assert_int_eq(sig_key_private_b64(ks, priv), 0);
	ck_assert_str_eq(priv, priv_a_b64);
	ck_assert_int_eq(sig_key_private_b64(k64, priv), 0);
	ck_assert_str_eq(priv, priv_a_b64);
	ck_assert(strncmp(priv, seed_a_b64, 40) == 0);
	sign_fixed(ks, s1);
	sign_fixed(k64, s2);
	ck_assert_mem_eq(s1, s2, 64);
	kp = pub_parse(pub_a_b64);
	ck_assert_int_eq(sig_ed25519_verify(kp, "fixed message", 13, s1), 0);
	ck_assert_int_eq(sig_key_private_b64(kp, priv), -1);
	sig_key_free(ks);
	sig_key_free(k64);
	sig_key_free(kp);
}
END_TEST

/* No 12-character run of secret appears in text. */
static void
assert_no_secret(const char *text, const char *secret, const char *what)
{
	size_t	 i, n = strlen(secret);
	char	 win[13];

	for (i = 0; i + 12 <= n; i++) {
		memcpy(win, secret + i, 12);
		win[12] = '\0';
		ck_assert_msg(strstr(text, win) == NULL,
		    "%s: message \"%s\" contains key material", what, text);
	}
}

START_TEST(key_64_byte_mismatch)
{
	unsigned char	 raw[64];
	char		 mixed[89], err[200] = "";
	struct sig_key	*k;

	/* seed A || public B */
	ck_assert_int_eq(b64_decode(priv_a_b64, 88, raw, sizeof(raw)), 64);
	ck_assert_int_eq(b64_decode(pub_b_b64, 44, raw + 32, 32), 32);
	b64_encode(raw, 64, mixed);
	k = sig_key_private_parse(mixed, strlen(mixed), err, sizeof(err));
	ck_assert_ptr_null(k);
	ck_assert_str_eq(err, "private key: the public half (bytes 33-64) "
	    "does not match the seed");
	assert_no_secret(err, mixed, "mismatch");
	assert_no_secret(err, seed_a_b64, "mismatch");
	assert_no_secret(err, pub_b_b64, "mismatch");
	/* A flipped bit in the public half alone. */
	ck_assert_int_eq(b64_decode(priv_a_b64, 88, raw, sizeof(raw)), 64);
	raw[63] ^= 1;
	b64_encode(raw, 64, mixed);
	ck_assert_ptr_null(sig_key_private_parse(mixed, strlen(mixed), err,
	    sizeof(err)));
	assert_no_secret(err, mixed, "flipped");
}
END_TEST

static char *
pem_of(EVP_PKEY *pkey, int private)
{
	BIO	*bio = BIO_new(BIO_s_mem());
	char	*p, *out;
	long	 n;

	ck_assert_ptr_nonnull(bio);
	if (private)
		ck_assert_int_eq(PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL,
		    0, NULL, NULL), 1);
	else
		ck_assert_int_eq(PEM_write_bio_PUBKEY(bio, pkey), 1);
	n = BIO_get_mem_data(bio, &p);
	out = xstrndup(p, (size_t)n);
	BIO_free(bio);
	return out;
}

static char *
spki_der_b64(EVP_PKEY *pkey, int *derlen)
{
	unsigned char	*der = NULL;
	char		*out;
	int		 n;

	n = i2d_PUBKEY(pkey, &der);
	ck_assert_int_gt(n, 0);
	*derlen = n;
	out = xmalloc(B64_ENCODED_SIZE((size_t)n));
	b64_encode(der, (size_t)n, out);
	OPENSSL_free(der);
	return out;
}

START_TEST(key_pem_and_der_forms)
{
	unsigned char	 seed[32], s_raw[64], s_pem[64];
	EVP_PKEY	*pkey;
	struct sig_key	*kraw, *kpem, *kpub, *kder;
	char		*ppem, *upem, *der, err[200];
	char		*h1, *h2;
	int		 derlen;
	size_t		 i;

	for (i = 0; i < 32; i++)
		seed[i] = (unsigned char)i;
	pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, 32);
	ck_assert_ptr_nonnull(pkey);
	ppem = pem_of(pkey, 1);
	upem = pem_of(pkey, 0);
	der = spki_der_b64(pkey, &derlen);
	ck_assert_int_eq(derlen, 44);
	ck_assert(strncmp(ppem, "-----BEGIN PRIVATE KEY-----", 27) == 0);
	ck_assert(strncmp(upem, "-----BEGIN PUBLIC KEY-----", 26) == 0);

	kraw = priv_parse(priv_a_b64);
	kpem = priv_parse(ppem);
	kpub = pub_parse(upem);
	kder = pub_parse(der);
	ck_assert_mem_eq(sig_key_public_raw(kpem), sig_key_public_raw(kraw),
	    32);
	ck_assert_mem_eq(sig_key_public_raw(kpub), sig_key_public_raw(kraw),
	    32);
	ck_assert_mem_eq(sig_key_public_raw(kder), sig_key_public_raw(kraw),
	    32);
	ck_assert_int_eq(sig_key_is_private(kpem), 1);
	ck_assert_int_eq(sig_key_is_private(kpub), 0);
	sign_fixed(kraw, s_raw);
	sign_fixed(kpem, s_pem);
	ck_assert_mem_eq(s_raw, s_pem, 64);
	ck_assert_int_eq(sig_ed25519_verify(kpub, "fixed message", 13, s_raw),
	    0);
	ck_assert_int_eq(sig_ed25519_verify(kder, "fixed message", 13, s_raw),
	    0);
	h1 = sig_sign_header(kraw, SUB, KID, T0, T1, "x", 1, NULL);
	h2 = sig_sign_header(kpem, SUB, KID, T0, T1, "x", 1, NULL);
	ck_assert_str_eq(h1, h2);
	free(h1);
	free(h2);

	/* Unpadded DER base64 (60 -> 59 characters). */
	ck_assert_uint_eq(strlen(der), 60);
	ck_assert_int_eq(der[59], '=');
	der[59] = '\0';
	sig_key_free(kder);
	kder = pub_parse(der);
	ck_assert_mem_eq(sig_key_public_raw(kder), sig_key_public_raw(kraw),
	    32);

	/* Wrong-way-round PEMs are rejected with their own message. */
	ck_assert_ptr_null(sig_key_private_parse(upem, strlen(upem), err,
	    sizeof(err)));
	ck_assert_str_eq(err, "private key PEM is not a PKCS#8 private key");
	ck_assert_ptr_null(sig_key_public_parse(ppem, strlen(ppem), err,
	    sizeof(err)));
	ck_assert_str_eq(err, "public key PEM is not an SPKI public key");

	sig_key_free(kraw);
	sig_key_free(kpem);
	sig_key_free(kpub);
	sig_key_free(kder);
	free(ppem);
	free(upem);
	free(der);
	EVP_PKEY_free(pkey);
}
END_TEST

START_TEST(key_unpadded_and_whitespace)
{
	static const char *const wrap[][2] = { { "", "\n" }, { "", "\r\n" },
	    { "  ", "\n\n" }, { "\t", " \t\n" }, { "", "" } };
	char		*t, unp[89];
	struct sig_key	*k;
	size_t		 i;

	/* Unpadded: 64 bytes -> 86 chars, 32 bytes -> 43 chars. */
	snprintf(unp, sizeof(unp), "%.86s", priv_a_b64);
	ck_assert_int_eq(priv_a_b64[86], '=');
	k = priv_parse(unp);
	sig_key_public_b64(k, unp);
	ck_assert_str_eq(unp, pub_a_b64);
	sig_key_free(k);
	snprintf(unp, sizeof(unp), "%.43s", seed_a_b64);
	k = priv_parse(unp);
	sig_key_public_b64(k, unp);
	ck_assert_str_eq(unp, pub_a_b64);
	sig_key_free(k);
	snprintf(unp, sizeof(unp), "%.43s", pub_a_b64);
	k = pub_parse(unp);
	sig_key_public_b64(k, unp);
	ck_assert_str_eq(unp, pub_a_b64);
	sig_key_free(k);

	for (i = 0; i < sizeof(wrap) / sizeof(wrap[0]); i++) {
		xasprintf(&t, "%s%s%s", wrap[i][0], priv_a_b64, wrap[i][1]);
		k = priv_parse(t);
		sig_key_public_b64(k, unp);
		ck_assert_str_eq(unp, pub_a_b64);
		sig_key_free(k);
		free(t);
		xasprintf(&t, "%s%s%s", wrap[i][0], seed_a_b64, wrap[i][1]);
		sig_key_free(priv_parse(t));
		free(t);
		xasprintf(&t, "%s%s%s", wrap[i][0], pub_a_b64, wrap[i][1]);
		sig_key_free(pub_parse(t));
		free(t);
	}
}
END_TEST

static void
expect_priv_reject(const char *text, size_t len, const char *msg)
{
	char	 err[200] = "";

	ck_assert_msg(sig_key_private_parse(text, len, err, sizeof(err)) ==
	    NULL, "private key accepted: %.60s", text);
	ck_assert_msg(strstr(err, msg) != NULL, "error \"%s\", expected "
	    "\"%s\"", err, msg);
}

static void
expect_pub_reject(const char *text, const char *msg)
{
	char	 err[200] = "";

	ck_assert_msg(sig_key_public_parse(text, strlen(text), err,
	    sizeof(err)) == NULL, "public key accepted: %.60s", text);
	ck_assert_msg(strstr(err, msg) != NULL, "error \"%s\", expected "
	    "\"%s\"", err, msg);
}

static char *
srcdir_file(const char *rel)
{
	char	*p, *text;

	xasprintf(&p, "%s/%s", test_srcdir(), rel);
	text = test_read_file(p, NULL);
	free(p);
	return text;
}

START_TEST(key_rejections)
{
	static const size_t	 privlens[] = { 1, 16, 31, 33, 48, 63, 65,
	    66 };
	static const size_t	 publens[] = { 1, 16, 31, 33, 43, 45 };
	unsigned char		 raw[80];
	char			 b[100], *rsa, *rsapub, *t, *x_priv, *x_pub;
	char			*x_der;
	EVP_PKEY		*x;
	size_t			 i;
	int			 derlen;

	memset(raw, 0x5a, sizeof(raw));
	/* Private. */
	expect_priv_reject("", 0, "private key is empty");
	expect_priv_reject(" \n\t", 3, "private key is empty");
	expect_priv_reject("not base64!!", 12, "not valid base64");
	expect_priv_reject("AAEC AwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", 45,
	    "not valid base64");
	for (i = 0; i < sizeof(privlens) / sizeof(privlens[0]); i++) {
		b64_encode(raw, privlens[i], b);
		expect_priv_reject(b, strlen(b), "must decode to 32 bytes "
		    "(seed) or 64 bytes");
	}
	b64_encode(raw, 67, b);		/* 92 characters */
	expect_priv_reject(b, strlen(b), "not base64 of 32 or 64 bytes");
	t = xmalloc(9001);
	memset(t, 'A', 9000);
	t[9000] = '\0';
	expect_priv_reject(t, 9000, "too long");
	expect_priv_reject("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END "
	    "PRIVATE KEY-----\n", 58, "not a PKCS#8 private key");
	rsa = srcdir_file("tests/data/sig/rsa-1024.pem");
	rsapub = srcdir_file("tests/data/sig/rsa-1024.pub.pem");
	expect_priv_reject(rsa, strlen(rsa), "not an ed25519 key");
	x = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
	ck_assert_ptr_nonnull(x);
	x_priv = pem_of(x, 1);
	x_pub = pem_of(x, 0);
	x_der = spki_der_b64(x, &derlen);
	ck_assert_int_eq(derlen, 44);
	expect_priv_reject(x_priv, strlen(x_priv), "not an ed25519 key");

	/* Public. */
	expect_pub_reject("", "public key is empty");
	expect_pub_reject("not base64!!", "not valid base64");
	expect_pub_reject(priv_a_b64, "public key");
	expect_pub_reject(t, "too long");
	for (i = 0; i < sizeof(publens) / sizeof(publens[0]); i++) {
		b64_encode(raw, publens[i], b);
		expect_pub_reject(b, "must decode to 32 bytes");
	}
	b64_encode(raw, 48, b);
	expect_pub_reject(b, "public key");
	b64_encode(raw, 44, b);		/* 44 bytes, not DER */
	expect_pub_reject(b, "rejected");
	expect_pub_reject(rsapub, "not an ed25519 key");
	expect_pub_reject(rsa, "not an SPKI public key");
	expect_pub_reject(x_pub, "not an ed25519 key");
	expect_pub_reject(x_der, "not an ed25519 key");

	free(t);
	free(rsa);
	free(rsapub);
	free(x_priv);
	free(x_pub);
	free(x_der);
	EVP_PKEY_free(x);
}
END_TEST

START_TEST(key_generate)
{
	struct sig_key	*a, *b, *re;
	char		 pa[89], pb[89], pub[45];
	unsigned char	 raw[64];

	a = sig_key_generate();
	b = sig_key_generate();
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	ck_assert_int_eq(sig_key_private_b64(a, pa), 0);
	ck_assert_int_eq(sig_key_private_b64(b, pb), 0);
	ck_assert_str_ne(pa, pb);
	ck_assert_uint_eq(strlen(pa), 88);
	ck_assert_int_eq(b64_decode(pa, 88, raw, sizeof(raw)), 64);
	ck_assert_mem_eq(raw + 32, sig_key_public_raw(a), 32);
	re = priv_parse(pa);
	ck_assert_mem_eq(sig_key_public_raw(re), sig_key_public_raw(a), 32);
	sig_key_public_b64(a, pub);
	ck_assert_uint_eq(strlen(pub), 44);
	sig_key_free(a);
	sig_key_free(b);
	sig_key_free(re);
}
END_TEST

/* Round-trip property test. */

#define PROP_BODIES	1000
#define PROP_MAX	(1u << 20)

static uint64_t	 prng_s;

static uint64_t
prng(void)
{
	uint64_t	 z = (prng_s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t
prng_below(uint64_t n)
{
	return prng() % n;
}

struct utf8_stats {
	size_t	 seq[5];	/* sequences by length */
};

static size_t
utf8_put(unsigned char *p, uint32_t cp)
{
	if (cp < 0x80) {
		p[0] = (unsigned char)cp;
		return 1;
	}
	if (cp < 0x800) {
		p[0] = (unsigned char)(0xc0 | cp >> 6);
		p[1] = (unsigned char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		p[0] = (unsigned char)(0xe0 | cp >> 12);
		p[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		p[2] = (unsigned char)(0x80 | (cp & 0x3f));
		return 3;
	}
	p[0] = (unsigned char)(0xf0 | cp >> 18);
	p[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
	p[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
	p[3] = (unsigned char)(0x80 | (cp & 0x3f));
	return 4;
}

/* Strict UTF-8 check (no overlongs, surrogates or > U+10FFFF). */
static int
utf8_valid(const unsigned char *p, size_t len, struct utf8_stats *st)
{
	size_t		 i = 0, n, j;
	uint32_t	 cp;

	while (i < len) {
		if (p[i] < 0x80) {
			n = 1;
			cp = p[i];
		} else if ((p[i] & 0xe0) == 0xc0) {
			n = 2;
			cp = p[i] & 0x1fu;
		} else if ((p[i] & 0xf0) == 0xe0) {
			n = 3;
			cp = p[i] & 0x0fu;
		} else if ((p[i] & 0xf8) == 0xf0) {
			n = 4;
			cp = p[i] & 0x07u;
		} else
			return 0;
		if (i + n > len)
			return 0;
		for (j = 1; j < n; j++) {
			if ((p[i + j] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (p[i + j] & 0x3fu);
		}
		if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) ||
		    (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		st->seq[n]++;
		i += n;
	}
	return 1;
}

static void
gen_binary(unsigned char *b, size_t len)
{
	size_t		 i;
	uint64_t	 v = 0;

	for (i = 0; i < len; i++) {
		if (i % 8 == 0)
			v = prng();
		b[i] = (unsigned char)(v >> (8 * (i % 8)));
	}
	if (len > 0)	/* always some NUL bytes */
		for (i = 0; i < 1 + len / 64; i++)
			b[prng_below(len)] = 0;
}

static void
gen_utf8(unsigned char *b, size_t len)
{
	size_t		 o = 0;
	uint32_t	 cp;

	while (o < len) {
		switch (len - o < 4 ? 0 : prng_below(4)) {
		case 0:
			cp = 0x20 + (uint32_t)prng_below(0x5f);
			break;
		case 1:
			cp = 0x80 + (uint32_t)prng_below(0x800 - 0x80);
			break;
		case 2:
			do
				cp = 0x800 + (uint32_t)prng_below(0x10000 -
				    0x800);
			while (cp >= 0xd800 && cp <= 0xdfff);
			break;
		default:
			cp = 0x10000 + (uint32_t)prng_below(0x110000 -
			    0x10000);
			break;
		}
		o += utf8_put(b + o, cp);
	}
}

START_TEST(property_sign_verify_flip)
{
	const char		*env = getenv("BECKND_TEST_SEED");
	unsigned char		*body, seed[32];
	struct sig_key		*priv[4], *pub[4];
	struct sig_header	 h, h2;
	struct utf8_stats	 st;
	char			 d[SIG_DIGEST_B64_LEN], d2[SIG_DIGEST_B64_LEN];
	char			 sb[45], pb[45], *hdr;
	uint64_t		 seed0, bit;
	int64_t			 created, expires, now;
	size_t			 i, j, len, n_big = 0, n_bin = 0, n_utf8 = 0;
	size_t			 total = 0;
	int			 kind, ki;

	seed0 = env != NULL && *env != '\0' ? strtoull(env, NULL, 0) :
	    ((uint64_t)time(NULL) << 20) ^ (uint64_t)getpid();
	fprintf(stderr, "check_sig: property test seed %" PRIu64
	    " (BECKND_TEST_SEED=%" PRIu64 " replays it)\n", seed0, seed0);
	prng_s = seed0;
	memset(&st, 0, sizeof(st));

	for (i = 0; i < 4; i++) {
		for (j = 0; j < 32; j++)
			seed[j] = (unsigned char)prng();
		b64_encode(seed, 32, sb);
		priv[i] = priv_parse(sb);
		sig_key_public_b64(priv[i], pb);
		pub[i] = pub_parse(pb);
	}
	body = xmalloc(PROP_MAX + 1);

	for (i = 0; i < PROP_BODIES; i++) {
		/* Sizes: 0, 1, four of 512 KiB..1 MiB, then mostly small. */
		switch (i) {
		case 0:
			len = 0;
			break;
		case 1:
			len = 1;
			break;
		case 2:
			len = 512 * 1024;
			break;
		case 3:
			len = PROP_MAX;
			break;
		case 4:
			len = PROP_MAX - 1;
			break;
		case 5:
			len = 512 * 1024 + prng_below(512 * 1024);
			break;
		default:
			j = prng_below(100);
			len = j < 70 ? prng_below(1024) : j < 95 ?
			    prng_below(16384) : prng_below(256 * 1024);
			break;
		}
		kind = (int)(i < 6 ? i % 2 : prng_below(2));
		if (kind == 0) {
			gen_binary(body, len);
			n_bin++;
		} else {
			gen_utf8(body, len);
			ck_assert_msg(utf8_valid(body, len, &st),
			    "seed %" PRIu64 " body %zu: generator made bad "
			    "UTF-8", seed0, i);
			n_utf8++;
		}
		n_big += len >= 512 * 1024;
		total += len;

		ki = (int)prng_below(4);
		created = 1600000000 + (int64_t)prng_below(400000000);
		expires = created + 1 + (int64_t)prng_below(86400);
		hdr = sig_sign_header(priv[ki], SUB, KID, created, expires,
		    body, len, NULL);
		ck_assert_ptr_nonnull(hdr);
		ck_assert_msg(parse_str(hdr, &h) == SIG_OK, "seed %" PRIu64
		    " body %zu: own header does not parse", seed0, i);
		free(hdr);
		ck_assert(h.created == created && h.expires == expires);
		now = created - SIG_DEFAULT_SKEW_S + (int64_t)prng_below(
		    (uint64_t)(expires - created + 2 * SIG_DEFAULT_SKEW_S + 1));
		ck_assert_int_eq(sig_check_time(&h, now, SIG_DEFAULT_SKEW_S),
		    SIG_OK);
		ck_assert_int_eq(sig_digest(body, len, d), 0);
		ck_assert_msg(sig_verify_digest(&h, pub[ki], d) == SIG_OK,
		    "seed %" PRIu64 " body %zu (%zu bytes, %s): does not "
		    "verify", seed0, i, len, kind ? "utf8" : "binary");
		/* Another key must not verify it. */
		ck_assert_int_eq(sig_verify_digest(&h, pub[(ki + 1) % 4], d),
		    SIG_E_BAD_SIGNATURE);

		/* One flipped body bit (an extra byte for the empty body). */
		if (len > 0) {
			bit = prng_below((uint64_t)len * 8);
			body[bit / 8] ^= (unsigned char)(1u << (bit % 8));
			ck_assert_int_eq(sig_digest(body, len, d2), 0);
			body[bit / 8] ^= (unsigned char)(1u << (bit % 8));
		} else {
			body[0] = (unsigned char)prng();
			ck_assert_int_eq(sig_digest(body, 1, d2), 0);
		}
		ck_assert_str_ne(d, d2);
		ck_assert_msg(sig_verify_digest(&h, pub[ki], d2) ==
		    SIG_E_BAD_SIGNATURE, "seed %" PRIu64 " body %zu: "
		    "flipped body still verifies", seed0, i);

		/* One flipped signature bit. */
		h2 = h;
		bit = prng_below(512);
		h2.signature[bit / 8] ^= (unsigned char)(1u << (bit % 8));
		ck_assert_msg(sig_verify_digest(&h2, pub[ki], d) ==
		    SIG_E_BAD_SIGNATURE, "seed %" PRIu64 " body %zu: "
		    "signature bit %" PRIu64 " flipped still verifies", seed0,
		    i, bit);
	}
	fprintf(stderr, "check_sig: %d bodies, %zu bytes, %zu >= 512 KiB, "
	    "%zu binary, %zu UTF-8 (%zu/%zu/%zu 2/3/4-byte sequences)\n",
	    PROP_BODIES, total, n_big, n_bin, n_utf8, st.seq[2], st.seq[3],
	    st.seq[4]);
	ck_assert_uint_ge(n_big, 4);
	ck_assert_uint_gt(n_bin, 100);
	ck_assert_uint_gt(n_utf8, 100);
	ck_assert_uint_gt(st.seq[2], 0);
	ck_assert_uint_gt(st.seq[3], 0);
	ck_assert_uint_gt(st.seq[4], 0);
	for (i = 0; i < 4; i++) {
		sig_key_free(priv[i]);
		sig_key_free(pub[i]);
	}
	free(body);
}
END_TEST

/* The CLI, as a real process. */


static void
assert_run(const struct test_run *r, int status, const char *out, const char *what)
{
	ck_assert_msg(r->status == status, "%s: exit %d, expected %d; "
	    "stdout [%s] stderr [%s]", what, r->status, status, r->out,
	    r->err);
	if (out != NULL)
		ck_assert_msg(strcmp(r->out, out) == 0, "%s: stdout [%s], "
		    "expected [%s]; stderr [%s]", what, r->out, out, r->err);
}

/* Write text to a fresh temporary file; returns its path (free + unlink). */
static char *
temp_file(const char *text)
{
	const char	*dir = getenv("TMPDIR");
	char		*path;
	int		 fd;

	xasprintf(&path, "%s/becknd-check-sig.XXXXXX", dir != NULL &&
	    *dir != '\0' ? dir : "/tmp");
	ck_assert_int_ne(fd = mkstemp(path), -1);
	ck_assert(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
	close(fd);
	return path;
}

static char *
cli_sign_hdr(const char *key, const void *body, size_t len,
    const char *created, const char *expires)
{
	struct test_run	 r;
	char		*hdr;

	if (created != NULL)
		TEST_RUN(&r, body, len, "sign", "--private-key", key,
		    "--subscriber-id", SUB, "--key-id", KID, "--created",
		    created, "--expires", expires);
	else
		TEST_RUN(&r, body, len, "sign", "--private-key", key,
		    "--subscriber-id", SUB, "--key-id", KID);
	assert_run(&r, 0, NULL, "sign");
	ck_assert_str_eq(r.err, "");
	ck_assert_uint_gt(r.outlen, 1);
	ck_assert_int_eq(r.out[r.outlen - 1], '\n');
	ck_assert_ptr_null(memchr(r.out, '\n', r.outlen - 1));
	hdr = xstrndup(r.out, r.outlen - 1);
	test_run_free(&r);
	return hdr;
}

static int
all_b64(const char *s, size_t n)
{
	unsigned char	 raw[100];

	return (long)b64_decode(s, n, raw, sizeof(raw)) >= 0 &&
	    strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789+/=") >= n;
}

START_TEST(cli_keygen_round_trip)
{
	struct test_run	 r, r2;
	char		 priv[89], pub[45], *hdr;
	const char	*l2;
	unsigned char	 raw[64];

	TEST_RUN(&r, NULL, 0, "keygen");
	assert_run(&r, 0, NULL, "keygen");
	ck_assert_str_eq(r.err, "");
	/* Exactly two lines: 20 + 88 + 1 and 19 + 44 + 1 bytes. */
	ck_assert_uint_eq(r.outlen, 20 + 88 + 1 + 19 + 44 + 1);
	ck_assert(strncmp(r.out, "signing_private_key=", 20) == 0);
	ck_assert_int_eq(r.out[108], '\n');
	l2 = r.out + 109;
	ck_assert(strncmp(l2, "signing_public_key=", 19) == 0);
	ck_assert_int_eq(l2[19 + 44], '\n');
	ck_assert(all_b64(r.out + 20, 88));
	ck_assert(all_b64(l2 + 19, 44));
	memcpy(priv, r.out + 20, 88);
	priv[88] = '\0';
	memcpy(pub, l2 + 19, 44);
	pub[44] = '\0';
	ck_assert_int_eq(b64_decode(priv, 88, raw, sizeof(raw)), 64);
	ck_assert_int_eq(b64_decode(pub, 44, raw, 32), 32);

	hdr = cli_sign_hdr(priv, "{}", 2, "1700000000", "1700000300");
	TEST_RUN(&r2, "{}", 2, "verify", "--public-key", pub, "--authorization",
	    hdr, "--now", "1700000000");
	assert_run(&r2, 0, "ok\n", "verify keygen pair");
	test_run_free(&r2);
	free(hdr);
	/* A second run gives another key. */
	TEST_RUN(&r2, NULL, 0, "keygen");
	assert_run(&r2, 0, NULL, "keygen again");
	ck_assert_str_ne(r2.out, r.out);
	test_run_free(&r2);
	test_run_free(&r);
}
END_TEST

START_TEST(cli_sign_defaults)
{
	struct test_run		 r;
	struct sig_header	 h;
	char			*hdr;
	time_t			 t0, t1;

	t0 = time(NULL);
	hdr = cli_sign_hdr(priv_a_b64, "{\"a\":1}", 7, NULL, NULL);
	t1 = time(NULL);
	ck_assert_int_eq(parse_str(hdr, &h), SIG_OK);
	ck_assert_str_eq(h.subscriber_id, SUB);
	ck_assert_str_eq(h.key_id, KID);
	ck_assert_msg(h.created >= t0 && h.created <= t1, "created %lld not "
	    "in [%lld, %lld]", (long long)h.created, (long long)t0,
	    (long long)t1);
	ck_assert(h.expires == h.created + 300);
	TEST_RUN(&r, "{\"a\":1}", 7, "verify", "--public-key", pub_a_b64,
	    "--authorization", hdr);
	assert_run(&r, 0, "ok\n", "verify defaults");
	ck_assert_str_eq(r.err, "");
	test_run_free(&r);
	free(hdr);

	/* --expires alone: created is now. */
	TEST_RUN(&r, "x", 1, "sign", "--private-key", priv_a_b64,
	    "--subscriber-id", SUB, "--key-id", KID, "--expires",
	    "99999999999");
	assert_run(&r, 0, NULL, "sign --expires only");
	ck_assert_int_eq(sig_header_parse(r.out, r.outlen - 1, &h), SIG_OK);
	ck_assert(h.created >= t0 && h.expires == 99999999999LL);
	test_run_free(&r);
}
END_TEST

START_TEST(cli_body_bytes_kept)
{
	static const char	 bin[] = "a\0b\r\n\0";
	struct test_run		 r;
	char			*hdr;

	hdr = cli_sign_hdr(priv_a_b64, "x\n", 2, "1700000000", "1700000300");
	TEST_RUN(&r, "x", 1, "verify", "--public-key", pub_a_b64,
	    "--authorization", hdr, "--now", "1700000000");
	assert_run(&r, 1, NULL, "verify without the newline");
	ck_assert_str_eq(r.out, "bad signature: it does not match the body "
	    "digest under this key\n");
	test_run_free(&r);
	TEST_RUN(&r, "x\n", 2, "verify", "--public-key", pub_a_b64,
	    "--authorization", hdr, "--now", "1700000000");
	assert_run(&r, 0, "ok\n", "verify with the newline");
	test_run_free(&r);
	TEST_RUN(&r, "x\r\n", 3, "verify", "--public-key", pub_a_b64,
	    "--authorization", hdr, "--now", "1700000000");
	assert_run(&r, 1, NULL, "verify CRLF");
	test_run_free(&r);
	free(hdr);

	/* NUL bytes and CR travel too; the header equals the library's. */
	hdr = cli_sign_hdr(priv_a_b64, bin, sizeof(bin) - 1, "1700000000",
	    "1700000300");
	{
		struct sig_key	*k = priv_parse(priv_a_b64);
		char		*lib = sig_sign_header(k, SUB, KID, T0, T1,
		    bin, sizeof(bin) - 1, NULL);

		ck_assert_str_eq(hdr, lib);
		free(lib);
		sig_key_free(k);
	}
	TEST_RUN(&r, bin, sizeof(bin) - 1, "verify", "--public-key", pub_a_b64,
	    "--authorization", hdr, "--now", "1700000000");
	assert_run(&r, 0, "ok\n", "verify binary");
	test_run_free(&r);
	TEST_RUN(&r, bin, 1, "verify", "--public-key", pub_a_b64,
	    "--authorization", hdr, "--now", "1700000000");
	assert_run(&r, 1, NULL, "verify binary cut at the NUL");
	test_run_free(&r);
	free(hdr);
}
END_TEST

START_TEST(cli_verify_reasons)
{
	struct test_run	 r;
	char		*hdr, *bad;
	const char	*p;

	hdr = cli_sign_hdr(priv_a_b64, "{}", 2, "1700000000", "1700000300");
	/* Expiry at the skew boundary (default 5 s) and past it. */
	TEST_RUN(&r, "{}", 2, "verify", "--public-key", pub_a_b64,
	    "--authorization", hdr, "--now", "1700000305");
	assert_run(&r, 0, "ok\n", "verify at expires + 5");
	test_run_free(&r);
	TEST_RUN(&r, "{}", 2, "verify", "--public-key", pub_a_b64,
	    "--authorization", hdr, "--now", "1700000306");
	assert_run(&r, 1, "expired\n", "verify at expires + 6");
	test_run_free(&r);
	TEST_RUN(&r, "{}", 2, "verify", "--public-key", pub_a_b64,
	    "--authorization", hdr, "--now", "1700000306", "--skew", "6");
	assert_run(&r, 0, "ok\n", "verify --skew 6");
	test_run_free(&r);
	TEST_RUN(&r, "{}", 2, "verify", "--public-key", pub_a_b64,
	    "--authorization", hdr, "--now", "1699999995");
	assert_run(&r, 0, "ok\n", "verify at created - 5");
	test_run_free(&r);
	TEST_RUN(&r, "{}", 2, "verify", "--public-key", pub_a_b64,
	    "--authorization", hdr, "--now", "1699999994");
	assert_run(&r, 1, "not yet valid: created is in the future\n",
	    "verify at created - 6");
	test_run_free(&r);
	TEST_RUN(&r, "{}", 2, "verify", "--public-key", pub_a_b64,
	    "--authorization", hdr, "--now", "1699999994", "--skew", "0");
	assert_run(&r, 1, NULL, "verify --skew 0");
	ck_assert(strncmp(r.out, "not yet valid", 13) == 0);
	test_run_free(&r);

	/* Malformed: the attribute is named. */
	p = strstr(hdr, ",created=");
	ck_assert_ptr_nonnull(p);
	xasprintf(&bad, "%.*s%s", (int)(p - hdr), hdr,
	    strstr(p, ",expires="));
	TEST_RUN(&r, "{}", 2, "verify", "--public-key", pub_a_b64,
	    "--authorization", bad, "--now", "1700000000");
	assert_run(&r, 1, "malformed header: missing attribute \"created\"\n",
	    "verify without created");
	test_run_free(&r);
	free(bad);
	xasprintf(&bad, "%s,keyId=\"x|y|ed25519\"", hdr);
	TEST_RUN(&r, "{}", 2, "verify", "--public-key", pub_a_b64,
	    "--authorization", bad, "--now", "1700000000");
	assert_run(&r, 1, "malformed header: duplicate attribute \"keyId\"\n",
	    "verify with keyId twice");
	test_run_free(&r);
	free(bad);
	TEST_RUN(&r, "{}", 2, "verify", "--public-key", pub_a_b64,
	    "--authorization", "Bearer abc", "--now", "1700000000");
	assert_run(&r, 1, "malformed header: scheme is not Signature\n",
	    "verify Bearer");
	test_run_free(&r);

	/* Bad signature: other key, other body. */
	TEST_RUN(&r, "{}", 2, "verify", "--public-key", pub_b_b64,
	    "--authorization", hdr, "--now", "1700000000");
	assert_run(&r, 1, "bad signature: it does not match the body digest "
	    "under this key\n", "verify with key B");
	test_run_free(&r);
	TEST_RUN(&r, "{ }", 3, "verify", "--public-key", pub_a_b64,
	    "--authorization", hdr, "--now", "1700000000");
	assert_run(&r, 1, NULL, "verify other body");
	ck_assert(strncmp(r.out, "bad signature", 13) == 0);
	test_run_free(&r);
	free(hdr);
}
END_TEST

START_TEST(cli_verify_digest_option)
{
	struct test_run	 r;
	char		*hdr, d[SIG_DIGEST_B64_LEN], *opt;

	hdr = cli_sign_hdr(priv_a_b64, "{}", 2, "1700000000", "1700000300");
	ck_assert_int_eq(sig_digest("{}", 2, d), 0);
	xasprintf(&opt, "BLAKE-512=%s", d);
	TEST_RUN(&r, "{}", 2, "verify", "--public-key", pub_a_b64,
	    "--authorization", hdr, "--now", "1700000000", "--digest", opt);
	assert_run(&r, 0, "ok\n", "verify --digest BLAKE-512=");
	test_run_free(&r);
	TEST_RUN(&r, "{}", 2, "verify", "--public-key", pub_a_b64,
	    "--authorization", hdr, "--now", "1700000000", "--digest", d);
	assert_run(&r, 0, "ok\n", "verify --digest bare");
	test_run_free(&r);
	free(opt);
	ck_assert_int_eq(sig_digest("{ }", 3, d), 0);
	xasprintf(&opt, "BLAKE-512=%s", d);
	TEST_RUN(&r, "{}", 2, "verify", "--public-key", pub_a_b64,
	    "--authorization", hdr, "--now", "1700000000", "--digest", opt);
	assert_run(&r, 1, "bad digest: the body does not match the digest\n",
	    "verify --digest mismatch");
	test_run_free(&r);
	free(opt);
	free(hdr);
}
END_TEST

START_TEST(cli_usage_errors)
{
	const char *const *const cases[] = {
		(const char *const[]){ "keygen", "extra", NULL },
		(const char *const[]){ "sign", NULL },
		(const char *const[]){ "sign", "--private-key", "k", NULL },
		(const char *const[]){ "sign", "--private-key", "k",
		    "--subscriber-id", "s", NULL },
		(const char *const[]){ "sign", "--private-key", "k",
		    "--subscriber-id", "s", "--key-id", "i", "--created",
		    "abc", NULL },
		(const char *const[]){ "sign", "--private-key", "k",
		    "--subscriber-id", "s", "--key-id", "i", "--created",
		    "-5", NULL },
		(const char *const[]){ "sign", "--private-key", "k",
		    "--subscriber-id", "s", "--key-id", "i", "--created",
		    "100", "--expires", "100", NULL },
		(const char *const[]){ "sign", "--private-key", "k",
		    "--subscriber-id", "a|b", "--key-id", "i", NULL },
		(const char *const[]){ "sign", "--private-key", "k",
		    "--subscriber-id", "", "--key-id", "i", NULL },
		(const char *const[]){ "sign", "--private-key", "k",
		    "--subscriber-id", "s", "--key-id", "i\"", NULL },
		(const char *const[]){ "sign", "--private-key", "k",
		    "--subscriber-id", "s", "--key-id", "i", "stray", NULL },
		(const char *const[]){ "sign", "--bogus", NULL },
		(const char *const[]){ "verify", NULL },
		(const char *const[]){ "verify", "--public-key", "k", NULL },
		(const char *const[]){ "verify", "--authorization", "x", NULL },
		(const char *const[]){ "verify", "--public-key", "k",
		    "--authorization", "x", "--now", "soon", NULL },
		(const char *const[]){ "verify", "--public-key", "k",
		    "--authorization", "x", "--skew", "-1", NULL },
		(const char *const[]){ "frobnicate", NULL },
	};
	struct test_run	 r;
	size_t		 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		test_run_cli(&r, NULL, 0, cases[i]);
		ck_assert_msg(r.status == 2, "case %zu (%s %s): exit %d, "
		    "stderr [%s]", i, cases[i][0], cases[i][1] == NULL ? "" :
		    cases[i][1], r.status, r.err);
		ck_assert_msg(r.errlen > 0, "case %zu: nothing on stderr", i);
		ck_assert_msg(r.outlen == 0, "case %zu: stdout [%s]", i,
		    r.out);
		test_run_free(&r);
	}
	test_run_cli(&r, NULL, 0, (const char *const[]){ NULL });
	ck_assert_int_eq(r.status, 2);
	ck_assert_ptr_nonnull(strstr(r.err, "usage"));
	test_run_free(&r);
}
END_TEST

START_TEST(cli_help_version)
{
	static const char *const subs[] = { "keygen", "sign", "verify",
	    "validate", "lookup" };
	struct test_run	 r;
	char		*want;
	size_t		 i;

	TEST_RUN(&r, NULL, 0, "--help");
	assert_run(&r, 0, NULL, "--help");
	for (i = 0; i < 5; i++) {
		xasprintf(&want, "becknd %s", subs[i]);
		ck_assert_msg(strstr(r.out, want) != NULL, "--help does not "
		    "list %s", subs[i]);
		free(want);
	}
	test_run_free(&r);
	TEST_RUN(&r, NULL, 0, "--version");
	assert_run(&r, 0, "becknd " PACKAGE_VERSION "\n", "--version");
	test_run_free(&r);
}
END_TEST

START_TEST(cli_private_key_never_printed)
{
	unsigned char	 raw[64];
	char		 mixed[89], *path, *arg;
	struct test_run	 r;

	ck_assert_int_eq(b64_decode(priv_a_b64, 88, raw, sizeof(raw)), 64);
	ck_assert_int_eq(b64_decode(pub_b_b64, 44, raw + 32, 32), 32);
	b64_encode(raw, 64, mixed);
	TEST_RUN(&r, "{}", 2, "sign", "--private-key", mixed, "--subscriber-id",
	    SUB, "--key-id", KID);
	assert_run(&r, 1, "", "sign with a mismatched key");
	ck_assert_ptr_nonnull(strstr(r.err, "does not match the seed"));
	assert_no_secret(r.err, mixed, "sign stderr");
	assert_no_secret(r.err, seed_a_b64, "sign stderr");
	test_run_free(&r);

	path = temp_file(mixed);
	xasprintf(&arg, "@%s", path);
	TEST_RUN(&r, "{}", 2, "sign", "--private-key", arg, "--subscriber-id",
	    SUB, "--key-id", KID);
	assert_run(&r, 1, "", "sign with a mismatched key file");
	assert_no_secret(r.err, mixed, "sign @file stderr");
	test_run_free(&r);
	unlink(path);
	free(path);
	free(arg);

	/* A private key where a public one belongs. */
	TEST_RUN(&r, "{}", 2, "verify", "--public-key", priv_a_b64,
	    "--authorization", "Signature x=\"y\"");
	assert_run(&r, 1, "", "verify with a private key");
	assert_no_secret(r.err, priv_a_b64, "verify stderr");
	test_run_free(&r);
	/* Garbage key text. */
	TEST_RUN(&r, "{}", 2, "sign", "--private-key", "AAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	    "AAAAAAAAAAAAAAAAAAAA", "--subscriber-id", SUB, "--key-id", KID);
	assert_run(&r, 1, "", "sign with a 36-byte key");
	assert_no_secret(r.err, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
	    "sign short key stderr");
	test_run_free(&r);
}
END_TEST

START_TEST(cli_key_forms)
{
	unsigned char	 seed[32];
	EVP_PKEY	*pkey;
	char		*ppem, *upem, *pp, *up, *ap, *au, *ref, *hdr;
	char		*seedfile, *as, *pubfile, *ak;
	struct test_run	 r;
	size_t		 i;

	for (i = 0; i < 32; i++)
		seed[i] = (unsigned char)i;
	pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, 32);
	ppem = pem_of(pkey, 1);
	upem = pem_of(pkey, 0);
	pp = temp_file(ppem);
	up = temp_file(upem);
	xasprintf(&ap, "@%s", pp);
	xasprintf(&au, "@%s", up);

	/* 64-byte, seed, PEM and files give one header. */
	ref = cli_sign_hdr(priv_a_b64, "{}", 2, "1700000000", "1700000300");
	hdr = cli_sign_hdr(seed_a_b64, "{}", 2, "1700000000", "1700000300");
	ck_assert_str_eq(hdr, ref);
	free(hdr);
	hdr = cli_sign_hdr(ap, "{}", 2, "1700000000", "1700000300");
	ck_assert_str_eq(hdr, ref);
	free(hdr);
	xasprintf(&as, "%s\n", seed_a_b64);
	seedfile = temp_file(as);
	free(as);
	xasprintf(&as, "@%s", seedfile);
	hdr = cli_sign_hdr(as, "{}", 2, "1700000000", "1700000300");
	ck_assert_str_eq(hdr, ref);
	free(hdr);

	TEST_RUN(&r, "{}", 2, "verify", "--public-key", au, "--authorization", ref,
	    "--now", "1700000000");
	assert_run(&r, 0, "ok\n", "verify with PEM file");
	test_run_free(&r);
	TEST_RUN(&r, "{}", 2, "verify", "--public-key", upem, "--authorization",
	    ref, "--now", "1700000000");
	assert_run(&r, 0, "ok\n", "verify with PEM text");
	test_run_free(&r);
	xasprintf(&ak, "%s\n", pub_a_b64);
	pubfile = temp_file(ak);
	free(ak);
	xasprintf(&ak, "@%s", pubfile);
	TEST_RUN(&r, "{}", 2, "verify", "--public-key", ak, "--authorization", ref,
	    "--now", "1700000000");
	assert_run(&r, 0, "ok\n", "verify with key file + newline");
	test_run_free(&r);
	/* A missing key file: exit 1, the path named. */
	TEST_RUN(&r, "{}", 2, "verify", "--public-key", "@/nonexistent/key",
	    "--authorization", ref, "--now", "1700000000");
	assert_run(&r, 1, "", "verify with a missing key file");
	ck_assert_ptr_nonnull(strstr(r.err, "/nonexistent/key"));
	test_run_free(&r);

	unlink(pp);
	unlink(up);
	unlink(seedfile);
	unlink(pubfile);
	free(pp);
	free(up);
	free(ap);
	free(au);
	free(as);
	free(ak);
	free(seedfile);
	free(pubfile);
	free(ref);
	free(ppem);
	free(upem);
	EVP_PKEY_free(pkey);
}
END_TEST

/*
 * An encrypted PKCS#8 key cannot be used (no passphrase option), so it
 * must be refused at once: neither prompt on the controlling terminal
 * (OpenSSL's default passphrase callback reads /dev/tty, which blocks a
 * daemon or a script) nor wait for input.  The child gets a pty of its own
 * as controlling terminal; it is killed after about 5 s (OpenSSL's prompt
 * traps SIGALRM, so the parent sends SIGKILL).
 */
START_TEST(cli_encrypted_pem_refused_without_prompt)
{
	unsigned char	 seed[32];
	EVP_PKEY	*pkey;
	BIO		*bio;
	char		*pem, *p, *path, *arg, tty[4096] = "", slave[128];
	const char	*argv[9];
	size_t		 i, ttylen = 0;
	ssize_t		 n;
	long		 plen;
	int		 m, st = 0, done = 0, fd;
	pid_t		 pid;

	for (i = 0; i < 32; i++)
		seed[i] = (unsigned char)i;
	pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, 32);
	bio = BIO_new(BIO_s_mem());
	ck_assert_int_eq(PEM_write_bio_PKCS8PrivateKey(bio, pkey,
	    EVP_aes_128_cbc(), "secret", 6, NULL, NULL), 1);
	plen = BIO_get_mem_data(bio, &p);
	pem = xstrndup(p, (size_t)plen);
	BIO_free(bio);
	EVP_PKEY_free(pkey);
	ck_assert(strncmp(pem, "-----BEGIN ENCRYPTED PRIVATE KEY-----", 37) ==
	    0);
	path = temp_file(pem);
	xasprintf(&arg, "@%s", path);

	if ((m = posix_openpt(O_RDWR | O_NOCTTY)) == -1 || grantpt(m) == -1 ||
	    unlockpt(m) == -1 || ptsname_r(m, slave, sizeof(slave)) != 0) {
		fprintf(stderr, "check_sig: no pty (%s); encrypted PEM test "
		    "not run\n", strerror(errno));
		goto out;
	}
	(void)fcntl(m, F_SETFL, O_NONBLOCK);
	argv[0] = test_becknd_bin();
	argv[1] = "sign";
	argv[2] = "--private-key";
	argv[3] = arg;
	argv[4] = "--subscriber-id";
	argv[5] = SUB;
	argv[6] = "--key-id";
	argv[7] = KID;
	argv[8] = NULL;
	fflush(NULL);
	if ((pid = fork()) == -1)
		ck_abort_msg("fork: %s", strerror(errno));
	if (pid == 0) {
		signal(SIGPIPE, SIG_DFL);
		close(m);
		if (setsid() == -1 || (fd = open(slave, O_RDWR)) == -1)
			_exit(126);
		(void)ioctl(fd, TIOCSCTTY, 0);
		if ((m = open("/dev/null", O_RDWR)) == -1 ||
		    dup2(m, 0) == -1 || dup2(m, 1) == -1 || dup2(m, 2) == -1)
			_exit(126);
		alarm(4);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	for (i = 0; i < 100 && !done; i++) {	/* at most ~5 s */
		while ((n = read(m, tty + ttylen, sizeof(tty) - 1 - ttylen)) > 0)
			ttylen += (size_t)n;
		tty[ttylen] = '\0';
		if (waitpid(pid, &st, WNOHANG) == pid)
			done = 1;
		else
			usleep(50000);
	}
	if (!done) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
	}
	close(m);
	unlink(path);
	free(path);
	free(arg);
	free(pem);
	ck_assert_msg(strstr(tty, "pass phrase") == NULL && WIFEXITED(st) &&
	    WEXITSTATUS(st) == 1, "becknd sign with an encrypted PEM key: %s; "
	    "terminal got [%s]", WIFEXITED(st) ? "exited" : "killed by a "
	    "signal (blocked reading the terminal)", tty);
	return;
out:
	unlink(path);
	free(path);
	free(arg);
	free(pem);
}
END_TEST

/*
 * Whatever `sign` accepts for --created must give a header `verify`
 * accepts (at now = created), or be refused as a usage error.
 */
START_TEST(cli_sign_far_future_created)
{
	static const char *const created[] = { "999999999999999",
	    "1000000000000000", "9223372036854775807" };
	struct test_run	 r, v;
	size_t		 i;
	char		*hdr, fail[2048];

	for (i = 0; i < 3; i++) {
		fail[0] = '\0';
		TEST_RUN(&r, "{}", 2, "sign", "--private-key", priv_a_b64,
		    "--subscriber-id", SUB, "--key-id", KID, "--created",
		    created[i]);
		if (r.status == 2) {
			if (r.outlen != 0)
				snprintf(fail, sizeof(fail), "--created %s: exit "
				    "2 but printed [%s]", created[i], r.out);
		} else if (r.status != 0 || r.outlen < 2) {
			snprintf(fail, sizeof(fail), "--created %s: exit %d, "
			    "stderr [%s]", created[i], r.status, r.err);
		} else {
			hdr = xstrndup(r.out, r.outlen - 1);
			TEST_RUN(&v, "{}", 2, "verify", "--public-key", pub_a_b64,
			    "--authorization", hdr, "--now", created[i]);
			if (v.status != 0 || strcmp(v.out, "ok\n") != 0)
				snprintf(fail, sizeof(fail), "sign --created %s "
				    "printed\n  %s\nwhich verify --now %s "
				    "rejects: exit %d, %s", created[i], hdr,
				    created[i], v.status, v.out);
			test_run_free(&v);
			free(hdr);
		}
		test_run_free(&r);
		/* Free first: under CK_FORK=no a failure does not return. */
		ck_assert_msg(fail[0] == '\0', "%s", fail);
	}
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("sig");
	TCase	*tc;

	signal(SIGPIPE, SIG_IGN);
	fixtures_init();

	tc = tcase_create("header");
	tcase_add_test(tc, parse_signed_header);
	tcase_add_test(tc, parse_any_order_and_spacing);
	tcase_add_test(tc, parse_scheme);
	tcase_add_test(tc, parse_oversize);
	tcase_add_test(tc, parse_syntax);
	tcase_add_test(tc, parse_duplicate);
	tcase_add_test(tc, parse_missing);
	tcase_add_test(tc, parse_keyid);
	tcase_add_test(tc, parse_keyid_embedded_nul);
	tcase_add_test(tc, parse_algorithm);
	tcase_add_test(tc, parse_created_expires);
	tcase_add_test(tc, parse_headers_attr);
	tcase_add_test(tc, parse_signature_attr);
	tcase_add_test(tc, parse_unknown_attributes_ignored);
	tcase_add_test(tc, reasons_distinct);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);

	tc = tcase_create("time");
	tcase_add_test(tc, time_policy);
	tcase_add_test(tc, time_policy_extreme_values);
	suite_add_tcase(s, tc);

	tc = tcase_create("sign");
	tcase_add_test(tc, digest_known_values);
	tcase_add_test(tc, signing_string_format);
	tcase_add_test(tc, sign_verify_basic);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);

	tc = tcase_create("keys");
	tcase_add_test(tc, key_seed_and_64_byte_forms);
	tcase_add_test(tc, key_64_byte_mismatch);
	tcase_add_test(tc, key_pem_and_der_forms);
	tcase_add_test(tc, key_unpadded_and_whitespace);
	tcase_add_test(tc, key_rejections);
	tcase_add_test(tc, key_generate);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);

	tc = tcase_create("property");
	tcase_add_test(tc, property_sign_verify_flip);
	tcase_set_timeout(tc, 600);
	suite_add_tcase(s, tc);

	tc = tcase_create("cli");
	tcase_add_test(tc, cli_keygen_round_trip);
	tcase_add_test(tc, cli_sign_defaults);
	tcase_add_test(tc, cli_body_bytes_kept);
	tcase_add_test(tc, cli_verify_reasons);
	tcase_add_test(tc, cli_verify_digest_option);
	tcase_add_test(tc, cli_usage_errors);
	tcase_add_test(tc, cli_help_version);
	tcase_add_test(tc, cli_private_key_never_printed);
	tcase_add_test(tc, cli_key_forms);
	tcase_add_test(tc, cli_sign_far_future_created);
	tcase_add_test(tc, cli_encrypted_pem_refused_without_prompt);
	tcase_set_timeout(tc, 300);
	suite_add_tcase(s, tc);

	return test_run_suite(s);
}

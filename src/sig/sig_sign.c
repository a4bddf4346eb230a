/*
 * sig_sign.c - BLAKE2b-512 digest, signing string, Signature header build
 * and parse, ed25519 sign/verify (BECKN-006).
 */
#include "config.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/evp.h>

#include "sig/sig.h"
#include "util/b64.h"
#include "util/xmalloc.h"

#define SIGNING_STRING_MAX	192	/* 2 x 20 digits + 88 + labels */
#define HEADERS_VALUE		"(created) (expires) digest"

static pthread_once_t	 md_once = PTHREAD_ONCE_INIT;
static EVP_MD		*md_blake2b512;

static void
md_init(void)
{
	/* Fetch once: an implicit fetch per digest costs a lock and a lookup. */
	md_blake2b512 = EVP_MD_fetch(NULL, "BLAKE2B-512", NULL);
}

static const char *const reasons[] = {
	[SIG_OK] = "ok",
	[SIG_E_OVERSIZE] = "malformed header: longer than 4096 bytes",
	[SIG_E_SCHEME] = "malformed header: scheme is not Signature",
	[SIG_E_SYNTAX] = "malformed header: attribute list does not parse",
	[SIG_E_DUPLICATE] = "malformed header: duplicate attribute",
	[SIG_E_MISSING] = "malformed header: missing attribute",
	[SIG_E_KEYID] = "malformed header: keyId is not "
	    "\"subscriber_id|unique_key_id|ed25519\"",
	[SIG_E_ALGORITHM] = "malformed header: algorithm is not ed25519",
	[SIG_E_CREATED] = "malformed header: created is not a unix time",
	[SIG_E_EXPIRES] = "malformed header: expires is not a unix time",
	[SIG_E_HEADERS] = "malformed header: headers is not "
	    "\"(created) (expires) digest\"",
	[SIG_E_SIGNATURE_B64] = "malformed header: signature is not base64 "
	    "of 64 bytes",
	[SIG_E_WINDOW] = "malformed header: expires is not after created",
	[SIG_E_NOT_YET_VALID] = "not yet valid: created is in the future",
	[SIG_E_EXPIRED] = "expired",
	[SIG_E_DIGEST] = "bad digest: the body does not match the digest",
	[SIG_E_BAD_SIGNATURE] = "bad signature: it does not match the body "
	    "digest under this key",
	[SIG_E_KEY] = "key unusable",
};

const char *
sig_strerror(enum sig_err e)
{
	if ((size_t)e >= sizeof(reasons) / sizeof(reasons[0]) ||
	    reasons[e] == NULL)
		return "unknown signature error";
	return reasons[e];
}

const char *
sig_describe(enum sig_err e, const struct sig_header *h, char *buf,
    size_t len)
{
	if (h != NULL && h->attr != NULL && (e == SIG_E_DUPLICATE ||
	    e == SIG_E_MISSING || e == SIG_E_SYNTAX))
		snprintf(buf, len, "%s \"%s\"", sig_strerror(e), h->attr);
	else
		snprintf(buf, len, "%s", sig_strerror(e));
	return buf;
}

int
sig_digest(const void *body, size_t len, char out[SIG_DIGEST_B64_LEN])
{
	unsigned char	 md[EVP_MAX_MD_SIZE];
	unsigned int	 mdlen = 0;

	pthread_once(&md_once, md_init);
	if (md_blake2b512 == NULL ||
	    EVP_Digest(body, len, md, &mdlen, md_blake2b512, NULL) != 1 ||
	    mdlen != 64) {
		ERR_clear_error();
		return -1;
	}
	b64_encode(md, mdlen, out);
	return 0;
}

int
sig_signing_string(int64_t created, int64_t expires, const char *digest_b64,
    char *buf, size_t len)
{
	int	 n;

	n = snprintf(buf, len, "(created): %lld\n(expires): %lld\n"
	    "digest: BLAKE-512=%s", (long long)created, (long long)expires,
	    digest_b64);
	if (n < 0 || (size_t)n >= len)
		return -1;
	return n;
}

int
sig_ed25519_sign(const struct sig_key *k, const void *msg, size_t len,
    unsigned char sig[SIG_SIGNATURE_LEN])
{
	EVP_MD_CTX	*ctx;
	size_t		 siglen = SIG_SIGNATURE_LEN;
	int		 rc = -1;

	if (!sig_key_is_private(k) || (ctx = EVP_MD_CTX_new()) == NULL)
		return -1;
	if (EVP_DigestSignInit(ctx, NULL, NULL, NULL, sig_key_pkey(k)) == 1 &&
	    EVP_DigestSign(ctx, sig, &siglen, msg, len) == 1 &&
	    siglen == SIG_SIGNATURE_LEN)
		rc = 0;
	EVP_MD_CTX_free(ctx);
	ERR_clear_error();
	return rc;
}

int
sig_ed25519_verify(const struct sig_key *k, const void *msg, size_t len,
    const unsigned char sig[SIG_SIGNATURE_LEN])
{
	EVP_MD_CTX	*ctx;
	int		 rc = -1;

	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return -1;
	if (EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, sig_key_pkey(k)) == 1 &&
	    EVP_DigestVerify(ctx, sig, SIG_SIGNATURE_LEN, msg, len) == 1)
		rc = 0;
	EVP_MD_CTX_free(ctx);
	ERR_clear_error();
	return rc;
}

char *
sig_sign_header(const struct sig_key *k, const char *subscriber_id,
    const char *key_id, int64_t created, int64_t expires, const void *body,
    size_t len, const char *digest_b64)
{
	char		 digest[SIG_DIGEST_B64_LEN], ss[SIGNING_STRING_MAX];
	char		 sigb64[B64_ENCODED_SIZE(SIG_SIGNATURE_LEN)], *out;
	unsigned char	 sig[SIG_SIGNATURE_LEN];
	int		 sslen;

	/* The ids go between quotes and '|' separators: refuse both. */
	if (*subscriber_id == '\0' || *key_id == '\0' ||
	    strpbrk(subscriber_id, "|\"") != NULL ||
	    strpbrk(key_id, "|\"") != NULL)
		return NULL;
	if (digest_b64 == NULL) {
		if (sig_digest(body, len, digest) == -1)
			return NULL;
		digest_b64 = digest;
	}
	if ((sslen = sig_signing_string(created, expires, digest_b64, ss,
	    sizeof(ss))) == -1)
		return NULL;
	if (sig_ed25519_sign(k, ss, (size_t)sslen, sig) == -1)
		return NULL;
	b64_encode(sig, sizeof(sig), sigb64);
	xasprintf(&out, "Signature keyId=\"%s|%s|ed25519\",algorithm=\"ed25519\","
	    "created=\"%lld\",expires=\"%lld\",headers=\"" HEADERS_VALUE "\","
	    "signature=\"%s\"", subscriber_id, key_id, (long long)created,
	    (long long)expires, sigb64);
	return out;
}

/* Header parsing. */

enum attr_id {
	A_KEYID, A_ALGORITHM, A_CREATED, A_EXPIRES, A_HEADERS, A_SIGNATURE,
	A_COUNT
};

static const char *const attr_names[A_COUNT] = {
	"keyId", "algorithm", "created", "expires", "headers", "signature"
};

struct span {
	const char	*p;
	size_t		 len;
};

static int
parse_unix(struct span v, int64_t *out)
{
	int64_t	 n = 0;
	size_t	 i;

	/* At most 15 digits (SIG_TIME_MAX): far past any real date, far
	 * below overflow. */
	if (v.len == 0 || v.len > 15)
		return -1;
	for (i = 0; i < v.len; i++) {
		if (v.p[i] < '0' || v.p[i] > '9')
			return -1;
		n = n * 10 + (v.p[i] - '0');
	}
	*out = n;
	return 0;
}

static int
span_eq(struct span v, const char *s)
{
	return v.len == strlen(s) && memcmp(v.p, s, v.len) == 0;
}

static int
parse_keyid(struct span v, struct sig_header *h)
{
	const char	*bar1, *bar2, *end = v.p + v.len;
	size_t		 sublen, keylen;

	if ((bar1 = memchr(v.p, '|', v.len)) == NULL)
		return -1;
	if ((bar2 = memchr(bar1 + 1, '|', (size_t)(end - bar1 - 1))) == NULL)
		return -1;
	if (memchr(bar2 + 1, '|', (size_t)(end - bar2 - 1)) != NULL)
		return -1;
	sublen = (size_t)(bar1 - v.p);
	keylen = (size_t)(bar2 - bar1 - 1);
	if (sublen == 0 || keylen == 0 || sublen >= SIG_ID_MAX ||
	    keylen >= SIG_ID_MAX)
		return -1;
	if ((size_t)(end - bar2 - 1) != strlen("ed25519") ||
	    memcmp(bar2 + 1, "ed25519", 7) != 0)
		return -1;
	memcpy(h->subscriber_id, v.p, sublen);
	h->subscriber_id[sublen] = '\0';
	memcpy(h->key_id, bar1 + 1, keylen);
	h->key_id[keylen] = '\0';
	return 0;
}

enum sig_err
sig_header_parse(const char *value, size_t len, struct sig_header *h)
{
	struct span	 attrs[A_COUNT];
	const char	*p = value, *end = value + len, *name, *q;
	size_t		 namelen, i;
	long		 n;
	int		 a;

	memset(h, 0, sizeof(*h));
	memset(attrs, 0, sizeof(attrs));
	if (len > SIG_HEADER_MAX)
		return SIG_E_OVERSIZE;
	/* A NUL would cut the ids short when they are used as C strings. */
	if (memchr(value, '\0', len) != NULL)
		return SIG_E_SYNTAX;

	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	/* Optional auth-scheme: a token followed by white space. */
	for (q = p; q < end && isalnum((unsigned char)*q); q++)
		;
	if (q < end && (*q == ' ' || *q == '\t')) {
		if ((size_t)(q - p) != 9 || strncasecmp(p, "Signature", 9) != 0)
			return SIG_E_SCHEME;
		p = q;
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
	}

	for (;;) {
		name = p;
		while (p < end && isalpha((unsigned char)*p))
			p++;
		namelen = (size_t)(p - name);
		a = -1;
		for (i = 0; i < A_COUNT; i++)
			if (strlen(attr_names[i]) == namelen &&
			    memcmp(attr_names[i], name, namelen) == 0)
				a = (int)i;
		if (a >= 0)
			h->attr = attr_names[a];	/* named in syntax errors */
		if (namelen == 0 || end - p < 2 || p[0] != '=' || p[1] != '"')
			return SIG_E_SYNTAX;
		p += 2;
		if ((q = memchr(p, '"', (size_t)(end - p))) == NULL)
			return SIG_E_SYNTAX;
		if (a >= 0) {
			if (attrs[a].p != NULL) {
				h->attr = attr_names[a];
				return SIG_E_DUPLICATE;
			}
			attrs[a].p = p;
			attrs[a].len = (size_t)(q - p);
		}
		/* Unknown attributes are ignored, as HTTP signatures allow. */
		p = q + 1;
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if (p == end)
			break;
		if (*p != ',')
			return SIG_E_SYNTAX;
		p++;
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
	}

	h->attr = NULL;
	for (i = 0; i < A_COUNT; i++) {
		if (attrs[i].p == NULL && i != A_ALGORITHM && i != A_HEADERS) {
			h->attr = attr_names[i];
			return SIG_E_MISSING;
		}
	}
	if (parse_keyid(attrs[A_KEYID], h) == -1)
		return SIG_E_KEYID;
	if (attrs[A_ALGORITHM].p != NULL &&
	    !span_eq(attrs[A_ALGORITHM], "ed25519"))
		return SIG_E_ALGORITHM;
	if (parse_unix(attrs[A_CREATED], &h->created) == -1)
		return SIG_E_CREATED;
	if (parse_unix(attrs[A_EXPIRES], &h->expires) == -1)
		return SIG_E_EXPIRES;
	if (attrs[A_HEADERS].p != NULL &&
	    !span_eq(attrs[A_HEADERS], HEADERS_VALUE))
		return SIG_E_HEADERS;
	if (attrs[A_SIGNATURE].len > 88)
		return SIG_E_SIGNATURE_B64;
	n = b64_decode(attrs[A_SIGNATURE].p, attrs[A_SIGNATURE].len,
	    h->signature, sizeof(h->signature));
	if (n != SIG_SIGNATURE_LEN)
		return SIG_E_SIGNATURE_B64;
	return SIG_OK;
}

/* Far beyond any real time; keeps the arithmetic below overflow-free. */
#define TIME_CLAMP	10000000000000000LL	/* 10^16 s */

enum sig_err
sig_check_time(const struct sig_header *h, int64_t now, int64_t skew)
{
	/* created/expires have at most 15 digits (parser); clamp the rest. */
	if (now < -TIME_CLAMP)
		now = -TIME_CLAMP;
	if (now > TIME_CLAMP)
		now = TIME_CLAMP;
	if (skew < 0)
		skew = 0;
	if (skew > TIME_CLAMP)
		skew = TIME_CLAMP;
	if (h->expires <= h->created)
		return SIG_E_WINDOW;
	if (h->created > now + skew)
		return SIG_E_NOT_YET_VALID;
	if (h->expires < now - skew)
		return SIG_E_EXPIRED;
	return SIG_OK;
}

enum sig_err
sig_verify_digest(const struct sig_header *h, const struct sig_key *k,
    const char *digest_b64)
{
	char	 ss[SIGNING_STRING_MAX];
	int	 sslen;

	if ((sslen = sig_signing_string(h->created, h->expires, digest_b64,
	    ss, sizeof(ss))) == -1)
		return SIG_E_KEY;
	if (sig_ed25519_verify(k, ss, (size_t)sslen, h->signature) == -1)
		return SIG_E_BAD_SIGNATURE;
	return SIG_OK;
}

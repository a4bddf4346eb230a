/*
 * sig.h - Beckn HTTP message signatures (BECKN-006, ed25519 + BLAKE2b-512).
 *
 *   digest          = base64(BLAKE2b-512(raw body bytes)), padded
 *   signing string  = "(created): C\n(expires): E\ndigest: BLAKE-512=D"
 *                     (LF separators, no trailing LF)
 *   header value    = Signature keyId="SUB|KEYID|ed25519",algorithm="ed25519",
 *                     created="C",expires="E",headers="(created) (expires)
 *                     digest",signature="S"   (one line, this order)
 *
 * Everything here is a pure function of its inputs: no I/O, no clock (the
 * caller passes "now"), no allocation except the header string returned by
 * sig_sign_header().  The body is always the raw bytes as sent; nothing
 * here re-serialises JSON.
 */
#ifndef BECKND_SIG_H
#define BECKND_SIG_H

#include <stddef.h>
#include <stdint.h>

#include "sig/sig_key.h"

#define SIG_HEADER_MAX		4096	/* longest header value accepted */
#define SIG_ID_MAX		256	/* subscriber id / key id, incl. NUL */
#define SIG_DIGEST_B64_LEN	89	/* base64(64 bytes) + NUL */
#define SIG_SIGNATURE_LEN	64
#define SIG_DEFAULT_SKEW_S	5
#define SIG_DEFAULT_TTL_S	300
/* created/expires are at most 15 digits on the wire. */
#define SIG_TIME_MAX		999999999999999LL

enum sig_err {
	SIG_OK = 0,
	SIG_E_OVERSIZE,		/* header longer than SIG_HEADER_MAX */
	SIG_E_SCHEME,		/* not "Signature ..." */
	SIG_E_SYNTAX,		/* attribute list does not parse */
	SIG_E_DUPLICATE,	/* an attribute appears twice */
	SIG_E_MISSING,		/* a required attribute is absent */
	SIG_E_KEYID,		/* keyId not "subscriber|key|ed25519" */
	SIG_E_ALGORITHM,	/* algorithm is not ed25519 */
	SIG_E_CREATED,		/* created not a non-negative integer */
	SIG_E_EXPIRES,		/* expires not a non-negative integer */
	SIG_E_HEADERS,		/* headers is not "(created) (expires) digest" */
	SIG_E_SIGNATURE_B64,	/* signature is not base64 of 64 bytes */
	SIG_E_WINDOW,		/* expires <= created */
	SIG_E_NOT_YET_VALID,	/* created later than now + skew */
	SIG_E_EXPIRED,		/* expires earlier than now - skew */
	SIG_E_DIGEST,		/* a transmitted digest differs from the body's */
	SIG_E_BAD_SIGNATURE,	/* ed25519 verification failed */
	SIG_E_KEY,		/* key unusable (internal) */
};

/* A parsed header. Fixed size: parsing allocates nothing. */
struct sig_header {
	char		 subscriber_id[SIG_ID_MAX];
	char		 key_id[SIG_ID_MAX];
	int64_t		 created;
	int64_t		 expires;
	unsigned char	 signature[SIG_SIGNATURE_LEN];
	const char	*attr;	/* on a parse error: the attribute at fault */
};

/* Short, stable reason text for an error code ("expired", ...). */
const char	*sig_strerror(enum sig_err);
/* Reason with the attribute named, e.g. `malformed header: duplicate
 * attribute "created"`, into buf. Returns buf. */
const char	*sig_describe(enum sig_err, const struct sig_header *,
		    char *buf, size_t len);

/* base64 BLAKE2b-512 of body into out. Returns 0, or -1 on OpenSSL error. */
int		 sig_digest(const void *body, size_t len,
		    char out[SIG_DIGEST_B64_LEN]);
/* The signing string; returns its length (< len) or -1 when it won't fit. */
int		 sig_signing_string(int64_t created, int64_t expires,
		    const char *digest_b64, char *buf, size_t len);

/*
 * Sign body and return the header value (xmalloc'd; caller frees), or NULL
 * on a key/OpenSSL failure or an empty id or one holding '|' or '"'.
 * digest_b64 may be NULL to have it computed.
 */
char		*sig_sign_header(const struct sig_key *,
		    const char *subscriber_id, const char *key_id,
		    int64_t created, int64_t expires,
		    const void *body, size_t len, const char *digest_b64);

/* Parse a header value (with or without the "Signature " scheme word). */
enum sig_err	 sig_header_parse(const char *value, size_t len,
		    struct sig_header *);

/* Time policy: window sane, created <= now + skew, expires >= now - skew. */
enum sig_err	 sig_check_time(const struct sig_header *, int64_t now,
		    int64_t skew);

/*
 * Verify the signature over the signing string built from the header's
 * created/expires and digest_b64 (the body's digest, from sig_digest(), so
 * that one digest serves Authorization and X-Gateway-Authorization).
 */
enum sig_err	 sig_verify_digest(const struct sig_header *,
		    const struct sig_key *, const char *digest_b64);

/* Raw ed25519 over arbitrary bytes; for test vectors and tooling. */
int		 sig_ed25519_sign(const struct sig_key *, const void *msg,
		    size_t len, unsigned char sig[SIG_SIGNATURE_LEN]);
int		 sig_ed25519_verify(const struct sig_key *, const void *msg,
		    size_t len, const unsigned char sig[SIG_SIGNATURE_LEN]);

#endif

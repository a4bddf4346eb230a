/*
 * sig_key.c - ed25519 keys: parse (base64 raw, libsodium layout, PEM/DER),
 * generate, export.
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "sig/sig_key.h"
#include "util/b64.h"
#include "util/xmalloc.h"

/* Longest key text we look at; PEM of an ed25519 key is ~120 bytes. */
#define KEY_TEXT_MAX	8192
/* DER SubjectPublicKeyInfo of an ed25519 key is 12 + 32 bytes. */
#define SPKI_DER_LEN	44

struct sig_key {
	EVP_PKEY	*pkey;
	int		 is_private;
	unsigned char	 pub[SIG_PUBKEY_LEN];
};

static void
seterr(char *err, size_t errlen, const char *msg)
{
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "%s", msg);
}

/* Trim surrounding white space; returns the start and sets *len. */
static const char *
trim(const char *s, size_t *len)
{
	size_t	 n = *len;

	while (n > 0 && isspace((unsigned char)*s)) {
		s++;
		n--;
	}
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		n--;
	*len = n;
	return s;
}

static int
is_pem(const char *s, size_t len)
{
	return len > 10 && memcmp(s, "-----BEGIN", 10) == 0;
}

/* Wrap a loaded EVP_PKEY; takes ownership. NULL if it is not ed25519. */
static struct sig_key *
wrap(EVP_PKEY *pkey, int is_private, char *err, size_t errlen)
{
	struct sig_key	*k;
	size_t		 publen = SIG_PUBKEY_LEN;

	if (EVP_PKEY_get_id(pkey) != EVP_PKEY_ED25519) {
		seterr(err, errlen, "key is not an ed25519 key");
		EVP_PKEY_free(pkey);
		return NULL;
	}
	k = xcalloc(1, sizeof(*k));
	k->pkey = pkey;
	k->is_private = is_private;
	if (EVP_PKEY_get_raw_public_key(pkey, k->pub, &publen) != 1 ||
	    publen != SIG_PUBKEY_LEN) {
		seterr(err, errlen, "cannot derive the public key");
		sig_key_free(k);
		return NULL;
	}
	return k;
}

/* Never prompt for a passphrase: a daemon has no terminal to ask on. */
static int
no_passphrase(char *buf, int size, int rwflag, void *u)
{
	return -1;
}

static EVP_PKEY *
pem_read(const char *s, size_t len, int private)
{
	BIO		*bio;
	EVP_PKEY	*pkey;

	if ((bio = BIO_new_mem_buf(s, (int)len)) == NULL)
		return NULL;
	pkey = private ? PEM_read_bio_PrivateKey(bio, NULL, no_passphrase,
	    NULL) : PEM_read_bio_PUBKEY(bio, NULL, no_passphrase, NULL);
	BIO_free(bio);
	ERR_clear_error();
	return pkey;
}

struct sig_key *
sig_key_private_parse(const char *text, size_t len, char *err, size_t errlen)
{
	unsigned char	 raw[B64_DECODED_MAX(92)];
	struct sig_key	*k = NULL;
	EVP_PKEY	*pkey;
	long		 n;

	text = trim(text, &len);
	if (len == 0 || len > KEY_TEXT_MAX) {
		seterr(err, errlen, len == 0 ? "private key is empty" :
		    "private key text is too long");
		return NULL;
	}
	if (is_pem(text, len)) {
		if (len > 20 && memcmp(text, "-----BEGIN ENCRYPTED", 20) == 0) {
			seterr(err, errlen, "encrypted private keys are not "
			    "supported (decrypt it with openssl pkey first)");
			return NULL;
		}
		if ((pkey = pem_read(text, len, 1)) == NULL) {
			seterr(err, errlen,
			    "private key PEM is not a PKCS#8 private key");
			return NULL;
		}
		return wrap(pkey, 1, err, errlen);
	}
	if (len > 88) {
		seterr(err, errlen, "private key is not base64 of 32 or 64 "
		    "bytes, nor PEM");
		return NULL;
	}
	n = b64_decode(text, len, raw, sizeof(raw));
	if (n != 32 && n != 64) {
		seterr(err, errlen, n < 0 ? "private key is not valid base64" :
		    "private key must decode to 32 bytes (seed) or 64 bytes "
		    "(seed || public)");
		goto done;
	}
	pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, raw,
	    SIG_SEED_LEN);
	if (pkey == NULL) {
		ERR_clear_error();
		seterr(err, errlen, "private key seed rejected by OpenSSL");
		goto done;
	}
	if ((k = wrap(pkey, 1, err, errlen)) == NULL)
		goto done;
	if (n == 64 && memcmp(k->pub, raw + SIG_SEED_LEN, SIG_PUBKEY_LEN) != 0) {
		seterr(err, errlen, "private key: the public half (bytes 33-64) "
		    "does not match the seed");
		sig_key_free(k);
		k = NULL;
	}
done:
	explicit_wipe(raw, sizeof(raw));
	return k;
}

struct sig_key *
sig_key_public_parse(const char *text, size_t len, char *err, size_t errlen)
{
	unsigned char		 raw[64];
	const unsigned char	*p = raw;
	EVP_PKEY		*pkey;
	long			 n;

	text = trim(text, &len);
	if (len == 0 || len > KEY_TEXT_MAX) {
		seterr(err, errlen, len == 0 ? "public key is empty" :
		    "public key text is too long");
		return NULL;
	}
	if (is_pem(text, len)) {
		if ((pkey = pem_read(text, len, 0)) == NULL) {
			seterr(err, errlen, "public key PEM is not an SPKI "
			    "public key");
			return NULL;
		}
		return wrap(pkey, 0, err, errlen);
	}
	if (len > 88 || (n = b64_decode(text, len, raw, sizeof(raw))) < 0) {
		seterr(err, errlen, "public key is not valid base64 or PEM");
		return NULL;
	}
	if (n == SIG_PUBKEY_LEN)
		pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL,
		    raw, SIG_PUBKEY_LEN);
	else if (n == SPKI_DER_LEN)
		pkey = d2i_PUBKEY(NULL, &p, n);
	else {
		seterr(err, errlen, "public key must decode to 32 bytes (or a "
		    "44-byte DER SubjectPublicKeyInfo)");
		return NULL;
	}
	if (pkey == NULL) {
		ERR_clear_error();
		seterr(err, errlen, "public key rejected by OpenSSL");
		return NULL;
	}
	return wrap(pkey, 0, err, errlen);
}

struct sig_key *
sig_key_generate(void)
{
	EVP_PKEY_CTX	*ctx;
	EVP_PKEY	*pkey = NULL;

	if ((ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, NULL)) == NULL)
		return NULL;
	if (EVP_PKEY_keygen_init(ctx) != 1 || EVP_PKEY_keygen(ctx, &pkey) != 1)
		pkey = NULL;
	EVP_PKEY_CTX_free(ctx);
	if (pkey == NULL) {
		ERR_clear_error();
		return NULL;
	}
	return wrap(pkey, 1, NULL, 0);
}

void
sig_key_free(struct sig_key *k)
{
	if (k == NULL)
		return;
	EVP_PKEY_free(k->pkey);
	free(k);
}

int
sig_key_is_private(const struct sig_key *k)
{
	return k->is_private;
}

const unsigned char *
sig_key_public_raw(const struct sig_key *k)
{
	return k->pub;
}

void
sig_key_public_b64(const struct sig_key *k, char out[45])
{
	b64_encode(k->pub, SIG_PUBKEY_LEN, out);
}

int
sig_key_private_b64(const struct sig_key *k, char out[89])
{
	unsigned char	 raw[SIG_SEED_LEN + SIG_PUBKEY_LEN];
	size_t		 len = SIG_SEED_LEN;

	if (!k->is_private ||
	    EVP_PKEY_get_raw_private_key(k->pkey, raw, &len) != 1 ||
	    len != SIG_SEED_LEN) {
		ERR_clear_error();
		return -1;
	}
	memcpy(raw + SIG_SEED_LEN, k->pub, SIG_PUBKEY_LEN);
	b64_encode(raw, sizeof(raw), out);
	explicit_wipe(raw, sizeof(raw));
	return 0;
}

struct evp_pkey_st *
sig_key_pkey(const struct sig_key *k)
{
	return k->pkey;
}

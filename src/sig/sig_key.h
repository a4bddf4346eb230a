/*
 * sig_key.h - ed25519 key loading and generation.
 *
 * Accepted private key spellings (surrounding whitespace ignored):
 *   - base64 of 64 bytes: seed || public (libsodium secret-key layout, as
 *     `becknd keygen` and the Beckn reference servers write it); the public
 *     half must match the seed;
 *   - base64 of a 32-byte seed;
 *   - PEM PKCS#8 ("-----BEGIN PRIVATE KEY-----").
 * Accepted public key spellings:
 *   - base64 of the raw 32 bytes;
 *   - base64 of the 44-byte DER SubjectPublicKeyInfo (some registries);
 *   - PEM SPKI ("-----BEGIN PUBLIC KEY-----").
 * Base64 may be padded or not.
 *
 * Ownership: a struct sig_key owns its EVP_PKEY; free with sig_key_free().
 * Secret bytes decoded on the way in are wiped before return; no error
 * message ever contains key material.
 */
#ifndef BECKND_SIG_KEY_H
#define BECKND_SIG_KEY_H

#include <stddef.h>

#define SIG_PUBKEY_LEN	32
#define SIG_SEED_LEN	32

struct sig_key;

/* On error return NULL and write a reason (no key bytes) into err. */
struct sig_key	*sig_key_private_parse(const char *text, size_t len,
		    char *err, size_t errlen);
struct sig_key	*sig_key_public_parse(const char *text, size_t len,
		    char *err, size_t errlen);
/* Fresh key pair from the OpenSSL CSPRNG. NULL on failure. */
struct sig_key	*sig_key_generate(void);
void		 sig_key_free(struct sig_key *);

int		 sig_key_is_private(const struct sig_key *);
/* Raw 32-byte public key. */
const unsigned char *sig_key_public_raw(const struct sig_key *);
/* Base64 of the public key, NUL-terminated, into 45 bytes. */
void		 sig_key_public_b64(const struct sig_key *, char out[45]);
/*
 * Base64 of seed || public (89 bytes incl. NUL). Only for `keygen` output
 * and key files; returns -1 for a public-only key.
 */
int		 sig_key_private_b64(const struct sig_key *, char out[89]);

/* For sig_sign.c only: the OpenSSL key object. */
struct evp_pkey_st *sig_key_pkey(const struct sig_key *);

#endif

/*
 * telemetry_int.h - shared by the event builder and the batcher.
 */
#ifndef BECKND_TELEMETRY_INT_H
#define BECKND_TELEMETRY_INT_H

#include <stddef.h>

#include <openssl/evp.h>

/* Ids (span_uuid, scope_uuid, batch id): a SHA-256 prefix, in hex. */
#define TEL_ID_BYTES	16
#define TEL_ID_HEX	(2 * TEL_ID_BYTES)

/* A SHA-256 context; aborts on failure (OOM), as xmalloc does. */
EVP_MD_CTX	*tel_sha_new(void);
void		 tel_sha_add(EVP_MD_CTX *, const void *, size_t);
/* Finish and free ctx; hex gets TEL_ID_HEX digits and a NUL. */
void		 tel_sha_id(EVP_MD_CTX *, char hex[TEL_ID_HEX + 1]);

#endif

/*
 * replay_hash.h - SipHash-2-4 with 128-bit output (internal to replay/).
 *
 * Why SipHash: the replay table is keyed by attacker-chosen bytes
 * (signatures, message ids).  A keyed PRF with a random per-table key
 * means nobody outside the process can aim keys at one bucket, and 128
 * bits make a false "seen" (two different keys, one digest) negligible,
 * so the table stores the digest only, never the caller's bytes.  It is
 * also an order of magnitude cheaper than an EVP digest call per key.
 */
#ifndef BECKND_REPLAY_HASH_H
#define BECKND_REPLAY_HASH_H

#include <stddef.h>
#include <stdint.h>

#define REPLAY_HASH_KEY_LEN	16

/*
 * out[0] and out[1] are the two 64-bit halves; the standard 16-byte output
 * is out[0] then out[1], each little-endian.
 */
void	replay_siphash128(const unsigned char key[REPLAY_HASH_KEY_LEN],
	    const void *in, size_t len, uint64_t out[2]);

#endif

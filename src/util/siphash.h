/*
 * siphash.h - SipHash-2-4 (Aumasson & Bernstein, 2012), the one keyed hash
 * for tables whose keys someone outside the process chooses (signatures,
 * message ids, subscriber ids, client addresses, JSON member names).
 *
 * Why SipHash: a plain or merely seeded hash (FNV, murmur) lets whoever
 * sends the keys find many that share a bucket, and a table degrades to a
 * list.  SipHash is a PRF: under a random key nobody who does not know it
 * can predict which bucket a key lands in, however many keys they try.
 * Every table (or process) draws its own key with siphash_key_random().
 *
 * The output is the standard one for the 16-byte key whose first 8 bytes
 * read little-endian are k[0] and last 8 are k[1]; message words are read
 * little-endian byte by byte, so any alignment and either byte order give
 * the same values (tests/check_util.c holds the reference vectors).
 *
 * Threads: pure functions of their arguments; a key is read only.
 */
#ifndef BECKND_UTIL_SIPHASH_H
#define BECKND_UTIL_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

struct siphash_key {
	uint64_t	 k[2];
};

/* SipHash-2-4 of len bytes at in (in may be NULL when len is 0). */
uint64_t	 siphash24(const struct siphash_key *, const void *in,
		    size_t len);
/*
 * SipHash-2-4 with 128-bit output: when 128 bits must make two different
 * inputs with one hash negligible, so that a table may store the hash
 * instead of the input.  The standard 16-byte output is out[0] then
 * out[1], each little-endian.
 */
void		 siphash24_128(const struct siphash_key *, const void *in,
		    size_t len, uint64_t out[2]);
/* A fresh random key from the system (getentropy): 0, or -1. */
int		 siphash_key_random(struct siphash_key *);

#endif

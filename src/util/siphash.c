/*
 * siphash.c - SipHash-2-4, 64- and 128-bit output (see siphash.h).
 */
#include "config.h"

#include <unistd.h>

#include "util/siphash.h"

struct sip {
	uint64_t	 v0, v1, v2, v3;
};

#define ROTL(x, b)	(uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

static inline void
sipround(struct sip *s)
{
	s->v0 += s->v1; s->v1 = ROTL(s->v1, 13); s->v1 ^= s->v0;
	s->v0 = ROTL(s->v0, 32);
	s->v2 += s->v3; s->v3 = ROTL(s->v3, 16); s->v3 ^= s->v2;
	s->v0 += s->v3; s->v3 = ROTL(s->v3, 21); s->v3 ^= s->v0;
	s->v2 += s->v1; s->v1 = ROTL(s->v1, 17); s->v1 ^= s->v2;
	s->v2 = ROTL(s->v2, 32);
}

/* Byte by byte: correct on any alignment and endianness. */
static inline uint64_t
load_le64(const unsigned char *p)
{
	return (uint64_t)p[0] | (uint64_t)p[1] << 8 |
	    (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24 |
	    (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 |
	    (uint64_t)p[6] << 48 | (uint64_t)p[7] << 56;
}

static inline void
compress(struct sip *s, uint64_t m)
{
	s->v3 ^= m;
	sipround(s);
	sipround(s);
	s->v0 ^= m;
}

/*
 * Initialise with key (v1 ^ 0xee for the 128-bit output) and take every
 * word of the message, the last one with the length in its top byte.
 */
static inline void
absorb(struct sip *s, const struct siphash_key *key, uint64_t v1x,
    const void *in, size_t len)
{
	const unsigned char	*p = in;
	uint64_t		 b = (uint64_t)len << 56;
	size_t			 i, left = len & 7;

	s->v0 = key->k[0] ^ 0x736f6d6570736575ULL;
	s->v1 = key->k[1] ^ 0x646f72616e646f6dULL ^ v1x;
	s->v2 = key->k[0] ^ 0x6c7967656e657261ULL;
	s->v3 = key->k[1] ^ 0x7465646279746573ULL;
	for (i = 0; i + 8 <= len; i += 8)
		compress(s, load_le64(p + i));
	while (left > 0) {
		left--;
		b |= (uint64_t)p[i + left] << (8 * left);
	}
	compress(s, b);
}

/* The four finalisation rounds after v2 ^= x; the 64 output bits. */
static inline uint64_t
finish(struct sip *s, uint64_t x)
{
	s->v2 ^= x;
	sipround(s);
	sipround(s);
	sipround(s);
	sipround(s);
	return s->v0 ^ s->v1 ^ s->v2 ^ s->v3;
}

uint64_t
siphash24(const struct siphash_key *key, const void *in, size_t len)
{
	struct sip	 s;

	absorb(&s, key, 0, in, len);
	return finish(&s, 0xff);
}

void
siphash24_128(const struct siphash_key *key, const void *in, size_t len,
    uint64_t out[2])
{
	struct sip	 s;

	absorb(&s, key, 0xee, in, len);
	out[0] = finish(&s, 0xee);
	s.v1 ^= 0xdd;
	out[1] = finish(&s, 0);
}

int
siphash_key_random(struct siphash_key *key)
{
	return getentropy(key->k, sizeof(key->k)) == 0 ? 0 : -1;
}

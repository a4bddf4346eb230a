/*
 * b64.h - standard base64 (RFC 4648 section 4) for keys, digests, signatures.
 *
 * Encoding always pads with '='.  Decoding accepts padded or unpadded input
 * (peers in the wild emit both) but rejects anything else: characters
 * outside the alphabet, embedded whitespace, bad padding, or non-zero
 * trailing bits, so that one key has exactly one accepted spelling per
 * padding choice.
 */
#ifndef BECKND_B64_H
#define BECKND_B64_H

#include <stddef.h>

/* Bytes needed to encode n bytes, including the NUL. */
#define B64_ENCODED_SIZE(n)	((((n) + 2) / 3) * 4 + 1)
/* Upper bound of bytes decoded from a string of n characters. */
#define B64_DECODED_MAX(n)	(((n) + 3) / 4 * 3)

/* Writes a NUL-terminated string into dst (B64_ENCODED_SIZE(len) bytes). */
size_t	b64_encode(const unsigned char *src, size_t len, char *dst);

/*
 * Decodes len characters of src into dst (at most dstlen bytes).
 * Returns the number of bytes written, or -1 on malformed input or when dst
 * is too small.
 */
long	b64_decode(const char *src, size_t len, unsigned char *dst,
	    size_t dstlen);

#endif

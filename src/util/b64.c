/*
 * b64.c - strict standard base64 with optional padding.
 */
#include "config.h"

#include <string.h>

#include "util/b64.h"

static const char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t
b64_encode(const unsigned char *src, size_t len, char *dst)
{
	size_t		 i, o = 0;
	unsigned int	 v;

	for (i = 0; i + 2 < len; i += 3) {
		v = (unsigned)src[i] << 16 | (unsigned)src[i + 1] << 8 |
		    src[i + 2];
		dst[o++] = alphabet[(v >> 18) & 63];
		dst[o++] = alphabet[(v >> 12) & 63];
		dst[o++] = alphabet[(v >> 6) & 63];
		dst[o++] = alphabet[v & 63];
	}
	if (len - i == 1) {
		v = (unsigned)src[i] << 16;
		dst[o++] = alphabet[(v >> 18) & 63];
		dst[o++] = alphabet[(v >> 12) & 63];
		dst[o++] = '=';
		dst[o++] = '=';
	} else if (len - i == 2) {
		v = (unsigned)src[i] << 16 | (unsigned)src[i + 1] << 8;
		dst[o++] = alphabet[(v >> 18) & 63];
		dst[o++] = alphabet[(v >> 12) & 63];
		dst[o++] = alphabet[(v >> 6) & 63];
		dst[o++] = '=';
	}
	dst[o] = '\0';
	return o;
}

static int
b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

long
b64_decode(const char *src, size_t len, unsigned char *dst, size_t dstlen)
{
	size_t		 i, o = 0, pad = 0, rem;
	unsigned int	 acc = 0;
	int		 v, bits = 0;

	/* Strip padding; at most two '=' and only when the length fits. */
	while (len > 0 && src[len - 1] == '=') {
		len--;
		pad++;
	}
	if (pad > 2)
		return -1;
	rem = len % 4;
	if (rem == 1)
		return -1;
	if (pad > 0 && (len + pad) % 4 != 0)
		return -1;

	for (i = 0; i < len; i++) {
		if ((v = b64_value((unsigned char)src[i])) < 0)
			return -1;
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o >= dstlen)
				return -1;
			dst[o++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	/* Leftover bits must be zero, or the input has two spellings. */
	if (acc != 0)
		return -1;
	return (long)o;
}

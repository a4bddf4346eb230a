/*
 * url.h - comparing the URLs participants are registered with.
 *
 * A subscriber_url, bap_uri or bpp_uri names one endpoint.  Two spellings
 * are the same endpoint when their scheme and authority (host and port)
 * are equal ignoring case, as RFC 3986 says they compare, and the rest
 * (path and query) is equal byte for byte: paths are case-sensitive, so
 * "/BPP" is not "/bpp".  Trailing '/' characters are ignored on both
 * sides ("http://h/bpp/" is "http://h/bpp").  Nothing is decoded or
 * normalised beyond that: a URL that needs more to match is not ours.
 */
#ifndef BECKND_URL_H
#define BECKND_URL_H

/* 1 when a and b name the same endpoint (above); 0 otherwise or NULL. */
int	url_same(const char *a, const char *b);

#endif

/*
 * hostport.h - "host:port" as written in listener addresses.
 *
 * Shared by the configuration checks and the HTTP listener, which must
 * agree on what an address is; it lives in util so that the HTTP framing
 * needs nothing from the configuration module.
 */
#ifndef BECKND_HOSTPORT_H
#define BECKND_HOSTPORT_H

/*
 * Split "host:port" or "[v6]:port" (port 0 to 65535, host not empty; an
 * unbracketed host has no ':').  0 with *host xmalloc'd (the caller frees
 * it) and *port set; -1 with *host NULL when s is not such an address.
 */
int	hostport_split(const char *s, char **host, int *port);

#endif

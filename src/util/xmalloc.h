/*
 * xmalloc.h - allocation wrappers and start-up failure helpers.
 *
 * Contract: the x* allocators never return NULL; on out-of-memory they log
 * one line and abort(), because a daemon that cannot allocate a few bytes
 * cannot do anything useful and must not limp on with half-built state.
 * fatal()/fatalx() are for start-up only (config, keys, sockets); runtime
 * failures are turned into Beckn NACKs or HTTP errors by their callers.
 */
#ifndef BECKND_XMALLOC_H
#define BECKND_XMALLOC_H

#include <stddef.h>
#include <stdarg.h>

void	*xmalloc(size_t);
void	*xcalloc(size_t, size_t);
void	*xrealloc(void *, size_t);
void	*xreallocarray(void *, size_t, size_t);
char	*xstrdup(const char *);
char	*xstrndup(const char *, size_t);
void	*xmemdup(const void *, size_t);
int	 xasprintf(char **, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
int	 xvasprintf(char **, const char *, va_list)
	    __attribute__((format(printf, 2, 0)));

/* Wipe memory that held secrets; not optimised away. */
void	 explicit_wipe(void *, size_t);

/* Print "becknd: msg[: strerror]" to stderr and exit(1). Start-up only. */
void	 fatal(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
void	 fatalx(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));

#endif

/*
 * budget.h - a byte budget shared by everything that holds message bodies
 * (limits.memory_max): request bodies being received, bodies waiting for
 * the webhook, bodies being sent to peers.
 *
 * A holder takes bytes before it buffers them and gives the same number
 * back when it frees them; budget_take() refuses (-1) when the total would
 * pass max, and the caller answers 503 NACK with Retry-After instead of
 * growing.  Charges move with the bytes: whoever ends up owning a body
 * gives its bytes back.  A NULL budget never refuses.
 *
 * Threads: one event loop; not locked.
 */
#ifndef BECKND_BUDGET_H
#define BECKND_BUDGET_H

#include <stddef.h>

struct budget {
	size_t	 max;
	size_t	 used;
	size_t	 peak;		/* highest used since start */
	size_t	 refused;	/* takes refused */
};

void	budget_init(struct budget *, size_t max);
/* New max (SIGHUP); what is held stays held, new takes see the new max. */
void	budget_set_max(struct budget *, size_t max);
/* 0 and n bytes charged, or -1 when used + n would pass max. */
int	budget_take(struct budget *, size_t n);
/*
 * n bytes charged whatever max: for bytes that must be held anyway (a
 * message already ACKed, restored from the journal).  used may pass max;
 * takes are then refused until enough is given back.  Not counted in
 * refused.
 */
void	budget_force(struct budget *, size_t n);
void	budget_give(struct budget *, size_t n);

#endif

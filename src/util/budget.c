/*
 * budget.c - a byte budget (see budget.h).
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "util/budget.h"

void
budget_init(struct budget *b, size_t max)
{
	b->max = max;
	b->used = 0;
	b->peak = 0;
	b->refused = 0;
}

void
budget_set_max(struct budget *b, size_t max)
{
	b->max = max;
}

int
budget_take(struct budget *b, size_t n)
{
	if (b == NULL)
		return 0;
	if (n > b->max || b->used > b->max - n) {
		b->refused++;
		return -1;
	}
	b->used += n;
	if (b->used > b->peak)
		b->peak = b->used;
	return 0;
}

void
budget_force(struct budget *b, size_t n)
{
	if (b == NULL)
		return;
	/* Past SIZE_MAX is a bug in the holder, as in budget_give(). */
	if (n > SIZE_MAX - b->used) {
		fprintf(stderr, "becknd: budget: %zu bytes forced, %zu "
		    "held\n", n, b->used);
		abort();
	}
	b->used += n;
	if (b->used > b->peak)
		b->peak = b->used;
}

void
budget_give(struct budget *b, size_t n)
{
	if (b == NULL)
		return;
	/* Giving back more than was taken is a bug in the holder. */
	if (n > b->used) {
		fprintf(stderr, "becknd: budget: %zu bytes given back, %zu "
		    "held\n", n, b->used);
		abort();
	}
	b->used -= n;
}

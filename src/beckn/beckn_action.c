/*
 * beckn_action.c - the Beckn core 1.1.0 action table.
 */
#include "config.h"

#include <string.h>

#include "beckn/beckn_action.h"

#define A(id, name, kind, msg, pair) \
	[id] = { id, name, sizeof(name) - 1, kind, msg, &actions[pair] }

static const struct beckn_action actions[BECKN_ACTION_COUNT] = {
	A(BECKN_A_SEARCH, "search", BECKN_REQUEST, 1, BECKN_A_ON_SEARCH),
	A(BECKN_A_SELECT, "select", BECKN_REQUEST, 1, BECKN_A_ON_SELECT),
	A(BECKN_A_INIT, "init", BECKN_REQUEST, 1, BECKN_A_ON_INIT),
	A(BECKN_A_CONFIRM, "confirm", BECKN_REQUEST, 1, BECKN_A_ON_CONFIRM),
	A(BECKN_A_STATUS, "status", BECKN_REQUEST, 1, BECKN_A_ON_STATUS),
	A(BECKN_A_TRACK, "track", BECKN_REQUEST, 1, BECKN_A_ON_TRACK),
	A(BECKN_A_CANCEL, "cancel", BECKN_REQUEST, 1, BECKN_A_ON_CANCEL),
	A(BECKN_A_UPDATE, "update", BECKN_REQUEST, 1, BECKN_A_ON_UPDATE),
	A(BECKN_A_RATING, "rating", BECKN_REQUEST, 1, BECKN_A_ON_RATING),
	A(BECKN_A_SUPPORT, "support", BECKN_REQUEST, 1, BECKN_A_ON_SUPPORT),

	A(BECKN_A_ON_SEARCH, "on_search", BECKN_CALLBACK, 1, BECKN_A_SEARCH),
	A(BECKN_A_ON_SELECT, "on_select", BECKN_CALLBACK, 1, BECKN_A_SELECT),
	A(BECKN_A_ON_INIT, "on_init", BECKN_CALLBACK, 1, BECKN_A_INIT),
	A(BECKN_A_ON_CONFIRM, "on_confirm", BECKN_CALLBACK, 1,
	    BECKN_A_CONFIRM),
	A(BECKN_A_ON_STATUS, "on_status", BECKN_CALLBACK, 1, BECKN_A_STATUS),
	A(BECKN_A_ON_TRACK, "on_track", BECKN_CALLBACK, 1, BECKN_A_TRACK),
	A(BECKN_A_ON_CANCEL, "on_cancel", BECKN_CALLBACK, 1, BECKN_A_CANCEL),
	A(BECKN_A_ON_UPDATE, "on_update", BECKN_CALLBACK, 1, BECKN_A_UPDATE),
	A(BECKN_A_ON_RATING, "on_rating", BECKN_CALLBACK, 1, BECKN_A_RATING),
	A(BECKN_A_ON_SUPPORT, "on_support", BECKN_CALLBACK, 1,
	    BECKN_A_SUPPORT),

	A(BECKN_A_GET_CANCELLATION_REASONS, "get_cancellation_reasons",
	    BECKN_REQUEST, 0, BECKN_A_CANCELLATION_REASONS),
	A(BECKN_A_CANCELLATION_REASONS, "cancellation_reasons",
	    BECKN_CALLBACK, 1, BECKN_A_GET_CANCELLATION_REASONS),
	A(BECKN_A_GET_RETURN_REASONS, "get_return_reasons",
	    BECKN_REQUEST, 0, BECKN_A_RETURN_REASONS),
	A(BECKN_A_RETURN_REASONS, "return_reasons",
	    BECKN_CALLBACK, 1, BECKN_A_GET_RETURN_REASONS),
	A(BECKN_A_GET_RATING_CATEGORIES, "get_rating_categories",
	    BECKN_REQUEST, 0, BECKN_A_RATING_CATEGORIES),
	A(BECKN_A_RATING_CATEGORIES, "rating_categories",
	    BECKN_CALLBACK, 1, BECKN_A_GET_RATING_CATEGORIES),
};

#undef A

const struct beckn_action *
beckn_action_findn(const char *name, size_t len)
{
	size_t	 i;

	/*
	 * 26 short names: a length check rejects most entries before memcmp,
	 * so a linear scan beats hashing at this size.
	 */
	if (name == NULL)
		return NULL;
	for (i = 0; i < BECKN_ACTION_COUNT; i++) {
		if (actions[i].namelen == len &&
		    memcmp(actions[i].name, name, len) == 0)
			return &actions[i];
	}
	return NULL;
}

const struct beckn_action *
beckn_action_find(const char *name)
{
	if (name == NULL)
		return NULL;
	return beckn_action_findn(name, strlen(name));
}

const struct beckn_action *
beckn_action_get(enum beckn_action_id id)
{
	if ((unsigned)id >= BECKN_ACTION_COUNT)
		return NULL;
	return &actions[id];
}

int
beckn_role_receives(enum beckn_role role, const struct beckn_action *a)
{
	if (a == NULL)
		return 0;
	switch (role) {
	case BECKN_ROLE_BAP:
		return a->kind == BECKN_CALLBACK;
	case BECKN_ROLE_BPP:
		return a->kind == BECKN_REQUEST;
	case BECKN_ROLE_GATEWAY:
		return a->id == BECKN_A_SEARCH;
	}
	return 0;
}

int
beckn_role_sends(enum beckn_role role, const struct beckn_action *a)
{
	if (a == NULL)
		return 0;
	switch (role) {
	case BECKN_ROLE_BAP:
		return a->kind == BECKN_REQUEST;
	case BECKN_ROLE_BPP:
		return a->kind == BECKN_CALLBACK;
	case BECKN_ROLE_GATEWAY:
		return a->id == BECKN_A_SEARCH;
	}
	return 0;
}

const char *
beckn_role_name(enum beckn_role role)
{
	switch (role) {
	case BECKN_ROLE_BAP:
		return "bap";
	case BECKN_ROLE_BPP:
		return "bpp";
	case BECKN_ROLE_GATEWAY:
		return "gateway";
	}
	return "unknown";
}

const char *
beckn_role_type(enum beckn_role role)
{
	switch (role) {
	case BECKN_ROLE_BAP:
		return "BAP";
	case BECKN_ROLE_BPP:
		return "BPP";
	case BECKN_ROLE_GATEWAY:
		return "BG";
	}
	return "?";
}
